// A generative task's samples continued greedily (eval/generation.h) and
// scored (tasks::ScoreAnswer): per sample the generated ids with their
// log-probabilities, why it stopped, its text and whether it is correct.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/columns.h"
#include "eval/generation.h"
#include "eval/requests.h"

namespace qsweep {

// [samples, max_tokens] and [samples, max_text] row-major, padding: token
// -1, log-prob NaN, text byte 0. A text longer than max_text (16 bytes per
// token allowed) is cut there and flagged in text_truncated; the score is
// always of the whole text.
struct GenRows {
  int64_t samples = 0;
  int64_t max_tokens = 0;
  int64_t max_text = 0;
  std::vector<int64_t> sample_id;
  std::vector<int32_t> n_tokens;
  std::vector<int32_t> tokens;
  std::vector<float> token_logprob;
  std::vector<uint8_t> stop_reason;  // StopReason (0 EOS, 1 stop string, 2 token limit, 3 no finite logit)
  std::vector<uint8_t> correct;
  std::vector<int32_t> text_bytes;   // the text's length before any cut
  std::vector<uint8_t> text_truncated;
  std::vector<uint8_t> text;
  // Timing as each sequence saw it (GenerationResult): not part of the
  // results, so files compared for equality leave them out.
  std::vector<float> ttft_ms, decode_ms;
};

inline constexpr int64_t kTextBytesPerToken = 16;

template <typename F, typename... Rows>
void ForEachSize(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, GenRows> && ...)
{
  f("samples", r.samples...);
  f("max_tokens", r.max_tokens...);
  f("max_text", r.max_text...);
}

template <typename F, typename... Rows>
void ForEachColumn(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, GenRows> && ...)
{
  f(Column("sample_id", r.sample_id, r.samples)...);
  f(Column("n_tokens", r.n_tokens, r.samples)...);
  f(Column("tokens", r.tokens, r.samples, &r.max_tokens, int32_t{-1})...);
  f(Column("token_logprob", r.token_logprob, r.samples, &r.max_tokens, NAN)...);
  f(Column("stop_reason", r.stop_reason, r.samples)...);
  f(Column("correct", r.correct, r.samples)...);
  f(Column("text_bytes", r.text_bytes, r.samples)...);
  f(Column("text_truncated", r.text_truncated, r.samples)...);
  f(Column("text", r.text, r.samples, &r.max_text, uint8_t{0}, kLarge)...);
  f(Column("ttft_ms", r.ttft_ms, r.samples, static_cast<decltype(&r.samples)>(nullptr), NAN)...);
  f(Column("decode_ms", r.decode_ms, r.samples, static_cast<decltype(&r.samples)>(nullptr), NAN)...);
}

// Samples [begin, end) of `task`, continued `sequences` at a time.
absl::StatusOr<GenRows> ScoreGenerations(LogitScorer& scorer, const GenTaskRequests& task, int64_t begin, int64_t end,
                                         const GenerationOptions& options);

// The text of sample `i` of `rows` as stored (cut where text_truncated).
std::string StoredText(const GenRows& rows, int64_t i);

}  // namespace qsweep
