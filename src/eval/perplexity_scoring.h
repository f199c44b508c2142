// Perplexity over a token stream with a fixed window and stride (the
// "sliding window" evaluation of HF's perplexity guide): window k feeds
// tokens [k·stride, k·stride + window) and scores those of its tokens that no
// earlier window scored, so every token after the first is scored once, with
// at least window − stride tokens of context after the first window.
#pragma once
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/columns.h"
#include "eval/logit_scorer.h"
#include "eval/requests.h"

namespace qsweep {

struct PplWindow {
  int64_t begin = 0;       // first fed token
  int64_t end = 0;         // one past the last fed token
  int64_t score_from = 0;  // first scored token (predicted from the row before it)
};

std::vector<PplWindow> PplWindows(int64_t tokens, int64_t window, int64_t stride);

// Per scored token t (stream index score_from..end-1 of each window, in order).
struct TokenRows {
  int64_t tokens = 0;
  int64_t topk = 0;
  int64_t vocab = 0;                 // > 0 when full rows are kept
  std::vector<int32_t> token_id;
  std::vector<float> nll;
  std::vector<float> logsumexp;
  std::vector<uint8_t> is_argmax;
  std::vector<int32_t> topk_id;      // [tokens, topk]
  std::vector<float> topk_logprob;   // [tokens, topk]
  std::vector<uint16_t> logprob_f16; // [tokens, vocab] when kept
};

// TokenRows' sizes and arrays, in journal and file order (eval/columns.h).
template <typename F, typename... Rows>
void ForEachSize(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, TokenRows> && ...)
{
  f("tokens", r.tokens...);
  f("topk", r.topk...);
  f("vocab", r.vocab...);
}

template <typename F, typename... Rows>
void ForEachColumn(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, TokenRows> && ...)
{
  f(Column("token_id", r.token_id, r.tokens)...);
  f(Column("nll", r.nll, r.tokens)...);
  f(Column("logsumexp", r.logsumexp, r.tokens)...);
  f(Column("is_argmax", r.is_argmax, r.tokens)...);
  f(Column("topk_id", r.topk_id, r.tokens, &r.topk, 0, kLarge)...);
  f(Column("topk_logprob", r.topk_logprob, r.tokens, &r.topk, 0.0f, kLarge)...);
  f(Column("logprob", r.logprob_f16, r.tokens, &r.vocab, 0, kLarge | kOptional)...);
}

absl::StatusOr<TokenRows> ScoreWindows(LogitScorer& scorer, const PplCorpusRequests& corpus,
                                       std::span<const PplWindow> windows, int topk, bool full_rows);

}  // namespace qsweep
