// One run's token-level scores on a perplexity corpus, as stored in a run
// file's /ppl/<corpus>/ group: a view over arrays the caller owns.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace qsweep::metrics {

struct TokenScores {
  std::string what;  // names the source in error messages, e.g. "w4.h5:/ppl/wiki"
  int64_t n_tokens = 0;                    // T
  int64_t top_k = 0;                       // K >= 1
  std::span<const float> nll;              // [T] -log p(actual next token)
  std::span<const int32_t> topk_id;        // [T, K]
  std::span<const float> topk_logprob;     // [T, K] normalized log-probs, sorted descending
  std::span<const int32_t> token_id;       // [T] optional: the scored tokens, to check pairing
  // [T] optional: the log-sum-exp of each token's logits, the value the stored
  // log-probs were computed against (logit - lse in fp32); the top-K KL bound
  // uses its size to bound their rounding (metrics/token_kl.h).
  std::span<const float> logsumexp = {};

  float TopLogProb(int64_t t, int64_t k) const { return topk_logprob[t * top_k + k]; }
  int32_t TopId(int64_t t, int64_t k) const { return topk_id[t * top_k + k]; }
};

// Sizes, finite non-negative nll, ids >= 0, top-K log-probs <= ~0 and sorted
// descending (a small tolerance for fp16/fp32 rounding).
absl::Status ValidateTokenScores(const TokenScores& s);

// Both valid, same T, and the same token ids where both give them. K may differ.
absl::Status ValidatePairedTokenScores(const TokenScores& base, const TokenScores& cand);

}  // namespace qsweep::metrics
