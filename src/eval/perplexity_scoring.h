// Perplexity over a token stream with a fixed window and stride (the
// "sliding window" evaluation of HF's perplexity guide): window k feeds
// tokens [k·stride, k·stride + window) and scores those of its tokens that no
// earlier window scored, so every token after the first is scored once, with
// at least window − stride tokens of context after the first window.
#pragma once
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
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
  int topk = 0;
  int64_t vocab = 0;                 // > 0 when full rows are kept
  std::vector<int32_t> token_id;
  std::vector<float> nll;
  std::vector<float> logsumexp;
  std::vector<uint8_t> is_argmax;
  std::vector<int32_t> topk_id;      // [tokens, topk]
  std::vector<float> topk_logprob;   // [tokens, topk]
  std::vector<uint16_t> logprob_f16; // [tokens, vocab] when kept
};

absl::StatusOr<TokenRows> ScoreWindows(LogitScorer& scorer, const PplCorpusRequests& corpus,
                                       std::span<const PplWindow> windows, int topk, bool full_rows);

}  // namespace qsweep
