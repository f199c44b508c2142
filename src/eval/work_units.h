// A run is cut into work units, the grain of scheduling (replicas pull
// units), of result transfer and of resumption after a crash: a chunk of
// samples of one task, a chunk of perplexity windows of one corpus, or a
// chunk of samples of one generative task.
// Units are numbered in a fixed order that depends only on the requests.
#pragma once
#include <cstdint>
#include <set>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/choice_scoring.h"
#include "eval/generation_scoring.h"
#include "eval/logit_scorer.h"
#include "eval/perplexity_scoring.h"
#include "eval/requests.h"

namespace qsweep {

struct WorkUnit {
  enum class Kind { kChoices, kTokens, kGenerate };
  int64_t id = 0;
  Kind kind = Kind::kChoices;
  int64_t source = 0;  // task index (kChoices), corpus index (kTokens) or generative task index
  int64_t begin = 0;   // samples [begin, end), or windows [begin, end)
  int64_t end = 0;
  int64_t first_row = 0;  // where its rows go: sample index, or scored-token index
};

struct UnitPlanOptions {
  int64_t samples_per_unit = 64;
  int64_t windows_per_unit = 4;
};

std::vector<WorkUnit> PlanWorkUnits(const RequestSet& requests, const UnitPlanOptions& options);

// What `units` hold, except those in `skip`: multiple-choice and generative
// samples, perplexity windows, and the tokens their forwards run (a shared
// context once, each choice's continuation, each window's tokens, each
// prompt; the generated tokens are not known before).
struct WorkSize {
  int64_t samples = 0, windows = 0, tokens = 0;
};
WorkSize CountWork(const RequestSet& requests, const std::vector<WorkUnit>& units, const std::set<int64_t>& skip);

using UnitResult = std::variant<ChoiceRows, TokenRows, GenRows>;

struct ScoringOptions {
  int topk = 32;
  bool full_logprobs = false;
  // Exact token statistics: a baseline keeps its final hidden states
  // (`hidden_bf16`: they are bf16), a candidate compares with `baseline`'s.
  bool keep_hidden = false;
  bool hidden_bf16 = false;
  BaselineHidden* baseline = nullptr;
  // Generative tasks: the tokenizer (text, stop strings), EOS ids, and how
  // many sequences decode together.
  GenerationOptions generation;
};

absl::StatusOr<UnitResult> ScoreUnit(LogitScorer& scorer, const RequestSet& requests,
                                     const WorkUnit& unit, const ScoringOptions& options);

}  // namespace qsweep
