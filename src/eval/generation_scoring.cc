#include "eval/generation_scoring.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {

absl::StatusOr<GenRows> ScoreGenerations(LogitScorer& scorer, const GenTaskRequests& task, int64_t begin, int64_t end,
                                         const GenerationOptions& options) {
  QSWEEP_CHECK(0 <= begin && begin <= end && end <= static_cast<int64_t>(task.samples.size()));
  std::vector<GenerationRequest> requests;
  for (int64_t i = begin; i < end; ++i) {
    const GenSampleRequest& s = task.samples[i];
    requests.push_back({.prompt = s.prompt, .max_tokens = s.sample.max_tokens, .stop = s.sample.stop});
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<GenerationResult> out, GenerateGreedy(scorer, requests, options));
  GenRows r;
  r.samples = end - begin;
  r.max_tokens = task.max_tokens();
  r.max_text = r.max_tokens * kTextBytesPerToken;
  ForEachColumn([&](const auto& c) { c.values.assign(c.rows * c.width(), c.pad); }, r);
  for (int64_t i = 0; i < r.samples; ++i) {
    const GenerationResult& g = out[i];
    QSWEEP_CHECK(static_cast<int64_t>(g.tokens.size()) <= r.max_tokens);
    r.sample_id[i] = begin + i;
    r.n_tokens[i] = static_cast<int32_t>(g.tokens.size());
    std::copy(g.tokens.begin(), g.tokens.end(), r.tokens.begin() + i * r.max_tokens);
    std::copy(g.logprobs.begin(), g.logprobs.end(), r.token_logprob.begin() + i * r.max_tokens);
    r.stop_reason[i] = static_cast<uint8_t>(g.stop);
    r.ttft_ms[i] = static_cast<float>(g.ttft_ms);
    r.decode_ms[i] = static_cast<float>(g.decode_ms);
    const tasks::GenSample& sample = task.samples[begin + i].sample;
    absl::StatusOr<tasks::AnswerScore> score = tasks::ScoreAnswer(sample, g.text);
    if (!score.ok())
      return absl::Status(score.status().code(),
                          absl::StrFormat("task %s, sample '%s': scoring its answer (pattern \"%s\"): %s", task.name,
                                          sample.id, sample.scorer.pattern, score.status().message()));
    r.correct[i] = score->correct;
    r.text_bytes[i] = static_cast<int32_t>(g.text.size());
    const int64_t kept = std::min<int64_t>(r.max_text, static_cast<int64_t>(g.text.size()));
    r.text_truncated[i] = kept < static_cast<int64_t>(g.text.size());
    std::copy(g.text.begin(), g.text.begin() + kept, r.text.begin() + i * r.max_text);
  }
  return r;
}

std::string StoredText(const GenRows& rows, int64_t i) {
  const int64_t n = std::min<int64_t>(rows.text_bytes[i], rows.max_text);
  const auto* p = rows.text.data() + i * rows.max_text;
  return std::string(p, p + n);
}

}  // namespace qsweep
