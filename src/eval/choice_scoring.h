// Multiple choice by log-likelihood, as lm-evaluation-harness scores it:
// log p(continuation | context) summed over the continuation's tokens, and
// whether every continuation token is the argmax (is_greedy). A shared
// context is packed once with every choice as a branch after it; the last
// token of each continuation is never fed (nothing after it is scored), so
// one-token continuations cost no rows at all.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/columns.h"
#include "eval/logit_scorer.h"
#include "eval/requests.h"

namespace qsweep {

// Per-sample results of a range of samples, [n, max_choices] row-major,
// padding: logprob NaN, tokens/bytes 0, greedy 0.
struct ChoiceRows {
  int64_t samples = 0;
  int64_t max_choices = 0;
  std::vector<int64_t> sample_id;
  std::vector<int32_t> label;
  std::vector<int32_t> n_choices;
  std::vector<double> choice_logprob;
  std::vector<int32_t> choice_tokens;
  std::vector<int64_t> choice_bytes;  // acc_norm lengths: McSampleRequest::continuation_bytes
  std::vector<uint8_t> choice_greedy;
};

// ChoiceRows' sizes and arrays, in journal and file order (eval/columns.h).
template <typename F, typename... Rows>
void ForEachSize(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, ChoiceRows> && ...)
{
  f("samples", r.samples...);
  f("max_choices", r.max_choices...);
}

template <typename F, typename... Rows>
void ForEachColumn(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, ChoiceRows> && ...)
{
  f(Column("sample_id", r.sample_id, r.samples)...);
  f(Column("label", r.label, r.samples)...);
  f(Column("n_choices", r.n_choices, r.samples)...);
  f(Column("choice_logprob", r.choice_logprob, r.samples, &r.max_choices, NAN)...);
  f(Column("choice_tokens", r.choice_tokens, r.samples, &r.max_choices)...);
  f(Column("choice_bytes", r.choice_bytes, r.samples, &r.max_choices)...);
  f(Column("choice_greedy", r.choice_greedy, r.samples, &r.max_choices)...);
}

absl::StatusOr<ChoiceRows> ScoreChoices(LogitScorer& scorer, std::span<const McSampleRequest> samples,
                                        int64_t max_choices);

}  // namespace qsweep
