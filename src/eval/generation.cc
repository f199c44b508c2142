#include "eval/generation.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

double MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A sequence being decoded: its request, its cache rows and what it made.
struct Active {
  size_t request = 0;
  int64_t base = 0;    // first cache row
  int64_t length = 0;  // tokens in the cache (prompt + generated but the last)
  bool done = false;
};

}  // namespace

size_t FirstStop(const std::string& text, std::span<const std::string> stop) {
  size_t first = std::string::npos;
  for (const std::string& s : stop)
    if (!s.empty()) first = std::min(first, text.find(s));
  return first;
}

absl::StatusOr<std::vector<GenerationResult>> GenerateGreedy(LogitScorer& scorer,
                                                             std::span<const GenerationRequest> requests,
                                                             const GenerationOptions& options,
                                                             GenerationTiming* timing) {
  QSWEEP_CHECK(options.max_sequences >= 1 && options.max_sequences <= kMaxDecodeRows);
  const int64_t capacity = scorer.cache_rows(), batch_tokens = scorer.max_batch_tokens();
  const int64_t align = std::max<int64_t>(1, scorer.sequence_alignment());
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    const int64_t rows = static_cast<int64_t>(r.prompt.size()) + r.max_tokens;
    if (r.prompt.empty()) return absl::InvalidArgumentError(absl::StrFormat("request %d: the prompt is empty", i));
    if (!r.stop.empty() && !options.tokenizer)
      return absl::InvalidArgumentError(absl::StrFormat("request %d: stop strings need a tokenizer", i));
    if (r.max_tokens < 1)
      return absl::InvalidArgumentError(absl::StrFormat("request %d: max_tokens %d (at least 1)", i, r.max_tokens));
    if (rows > capacity || static_cast<int64_t>(r.prompt.size()) + align > batch_tokens)
      return absl::InvalidArgumentError(absl::StrFormat(
          "request %d: a prompt of %d tokens and %d new ones do not fit the KV cache of %d rows and batches of "
          "%d tokens", i, r.prompt.size(), r.max_tokens, capacity, batch_tokens));
  }
  std::vector<GenerationResult> results(requests.size());
  auto is_eos = [&](int32_t t) {
    return std::find(options.eos_ids.begin(), options.eos_ids.end(), t) != options.eos_ids.end();
  };
  int64_t generated = 0;
  // Takes token `t` with log-probability `lp` for sequence `a`; true once it is finished.
  auto take = [&](Active& a, int32_t t, float lp) {
    const GenerationRequest& req = requests[a.request];
    GenerationResult& out = results[a.request];
    if (t < 0 || !std::isfinite(lp)) {
      out.stop = StopReason::kNoFiniteLogit;
      return true;
    }
    out.tokens.push_back(t);
    out.logprobs.push_back(lp);
    ++generated;
    if (is_eos(t)) {
      out.stop = StopReason::kEos;
      return true;
    }
    if (!options.tokenizer) return static_cast<int32_t>(out.tokens.size()) >= req.max_tokens;
    out.text = options.tokenizer->Decode(out.tokens);
    if (const size_t at = FirstStop(out.text, req.stop); at != std::string::npos) {
      out.text.resize(at);
      out.stop = StopReason::kStopString;
      return true;
    }
    return static_cast<int32_t>(out.tokens.size()) >= req.max_tokens;
  };

  for (size_t next = 0; next < requests.size();) {
    // A group: consecutive requests whose cache rows and prompts fit.
    std::vector<Active> group;
    TokenBatch prefill;
    prefill.align = align;
    int64_t rows_used = 0;
    std::vector<int64_t> first_rows;
    while (next < requests.size() && static_cast<int64_t>(group.size()) < options.max_sequences) {
      const GenerationRequest& r = requests[next];
      const int64_t len = static_cast<int64_t>(r.prompt.size());
      const std::array<int64_t, 1> lengths = {len};
      if (rows_used + len + r.max_tokens > capacity || prefill.RowsAfter(lengths) > batch_tokens) break;
      group.push_back(Active{.request = next, .base = rows_used, .length = len});
      rows_used += len + r.max_tokens;
      first_rows.push_back(prefill.AddSequence(r.prompt));
      ++next;
    }
    QSWEEP_CHECK(!group.empty());
    // Prefill: every prompt row writes its cache row (alignment padding
    // none); the last row of each prompt gives the first new token.
    prefill.layout.cache_row.assign(prefill.rows(), -1);
    std::vector<int64_t> last_rows;
    for (size_t i = 0; i < group.size(); ++i) {
      for (int64_t p = 0; p < group[i].length; ++p) prefill.layout.cache_row[first_rows[i] + p] = group[i].base + p;
      last_rows.push_back(first_rows[i] + group[i].length - 1);
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> targets(last_rows.size(), 0);
    QSWEEP_ASSIGN_OR_RETURN(RowScores first, scorer.Score(prefill, last_rows, targets, 1, false));
    const double prefill_ms = MillisSince(t0);
    for (const Active& a : group) results[a.request].ttft_ms = prefill_ms;
    if (timing) {
      timing->prefill_ms += prefill_ms;
      for (const Active& a : group) timing->prompt_tokens += a.length;
    }
    for (size_t i = 0; i < group.size(); ++i)
      group[i].done = take(group[i], first.topk_id[i], first.topk_logprob[i]);
    if (options.progress) options.progress(generated);

    t0 = std::chrono::steady_clock::now();
    for (;;) {
      std::vector<Active*> live;
      for (Active& a : group)
        if (!a.done) live.push_back(&a);
      if (live.empty()) break;
      TokenBatch step;
      SequenceLayout& l = step.layout;
      for (size_t i = 0; i < live.size(); ++i) {
        const Active& a = *live[i];
        const int64_t r = static_cast<int64_t>(i);
        step.tokens.push_back(results[a.request].tokens.back());
        l.positions.push_back(static_cast<int32_t>(a.length));
        l.seq_begin.push_back(r);
        l.prefix_end.push_back(r);
        l.branch_begin.push_back(r);
        l.cache_row.push_back(a.base + a.length);
        l.cache_begin.push_back(a.base);
      }
      std::vector<int64_t> rows(live.size());
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
      targets.assign(live.size(), 0);
      const auto t1 = std::chrono::steady_clock::now();
      QSWEEP_ASSIGN_OR_RETURN(RowScores s, scorer.Score(step, rows, targets, 1, false));
      const double step_ms = MillisSince(t1);
      for (const Active* a : live) results[a->request].decode_ms += step_ms;
      if (timing) ++timing->decode_steps;
      for (size_t i = 0; i < live.size(); ++i) {
        ++live[i]->length;
        live[i]->done = take(*live[i], s.topk_id[i], s.topk_logprob[i]);
      }
      if (options.progress) options.progress(generated);
    }
    if (timing) timing->decode_ms += MillisSince(t0);
  }
  if (timing) timing->generated_tokens += generated;
  return results;
}

}  // namespace qsweep
