// Token-level KL(P_base || P_q) of the next-token distributions, per token.
//
// Exact, from full log-prob rows [T, V] (each row renormalized by its own
// log-sum-exp, since fp16 storage leaves rows summing to 1 only roughly):
//   KL_t = sum_v p_v (log p_v - log q_v).
//
// From top-K only (is_bound = true): a lower bound. Let S be the baseline's
// top-K ids and A the ids of S that also appear in the candidate's top-K
// (only for those do we know q). Partition the vocabulary into one bucket per
// id of A plus one "rest" bucket R = V \ A. R holds the baseline's tail
// (1 - sum of its top-K) and its mass on S \ A, and for the candidate all mass
// not on A (1 - sum_{a in A} q_a): both are exactly known. The KL between the
// two coarse-grained distributions,
//   sum_{a in A} p_a log(p_a / q_a) + P(R) log(P(R) / Q(R)),
// is <= the true KL by the data-processing inequality (merging outcomes is a
// channel; channels cannot increase KL), and equals it when A is the whole
// vocabulary (K = V). Assigning the unknown q of S \ A any guessed value
// instead would not be a bound in either direction, so we do not.
// Rounding: Q(R) = 1 - sum_{a in A} q_a is computed from stored fp32
// log-probs, each exp(lq) off by up to ~2^-24 relative from the log-prob's
// rounding plus the producer's log-softmax error; when Q(R) is small that
// cancellation dominates, and an underestimated Q(R) would overestimate the
// KL. So we use Q(R) + |A| * kPerEntryMassError, an upper bound on the true
// Q(R): raising Q(R) only lowers P(R) log(P(R)/Q(R)), the result stays a lower
// bound, and it is never infinite. P(R) is clamped to >= 0. (Stored top-K
// log-probs should be fp32: fp16 would make the error ~2^-11 per entry.)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/token_scores.h"

namespace qsweep::metrics {

// Generous bound on the absolute error of one probability exp(stored fp32 log-prob).
inline constexpr double kPerEntryMassError = 0x1p-22;

// base_rows and cand_rows are [T, V] log-probs (or logits: each row is renormalized).
absl::StatusOr<std::vector<double>> ExactTokenKl(std::span<const float> base_rows,
                                                 std::span<const float> cand_rows,
                                                 int64_t vocab_size);

// Lower bound from the top-K arrays of both runs (K may differ between runs).
absl::StatusOr<std::vector<double>> TopKTokenKl(const TokenScores& base, const TokenScores& cand);

struct TokenKlSummary {
  int64_t n_tokens = 0;
  double mean = 0.0;
  double median = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
  double p999 = 0.0;
  double max = 0.0;
  bool is_bound = false;  // true when from top-K: every statistic is then a lower bound
};

TokenKlSummary SummarizeTokenKl(std::span<const double> per_token, bool is_bound);

}  // namespace qsweep::metrics
