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
//   D = sum_{a in A} p_a (lp_a - lq_a) + P(R) log(P(R) / Q(R)),
// is <= the true KL by the data-processing inequality (merging outcomes is a
// channel; channels cannot increase KL), and equals it when A is the whole
// vocabulary (K = V). Assigning the unknown q of S \ A any guessed value
// instead would not be a bound in either direction, so we do not.
//
// Rounding. D evaluated at the stored values is not a bound: stored fp32
// log-probs computed as float(logit) - float(lse) are each off by up to
// ulp(lse)/2 + ulp(lp)/2 (lse ~ 10-30 gives ~1e-6, with the same sign for a
// whole row; rounded once from an fp64 lse, lp still carries ulp(lp)/2 and
// the error of the device's sum of exponentials), sum exp(lp) over the top-K
// can exceed 1, and D at the stored values then exceeds the true KL on a good
// share of tokens (by ~1e-6, which is the whole KL of a close candidate). So
// we assume, for run files of either kind, each stored log-prob is within
//   eps_i = 2^-23 (|lp_i| + L),  L = |stored lse of the token| + 8,
// of the true log-prob: 2^-23 (|lp| + |lse|) is twice the two roundings, and
// the + 8 (~1e-6) covers the rest of the lse's error, the rounding of
// float(log sum exp) (<= 2^-24 ln V, ln V <= 12) and the device's expf (2 ulp)
// and fp32 sum. Without TokenScores::logsumexp, L = 64 (a bound on |lse| + 8
// for the models we run). We return the minimum of D over that box, every
// term minimized on its own (a sum of minima is <= the minimum of the sum),
// exactly:
//   p (lp - lq) falls in lq, so lq -> lq + eps_q; then e^x (x - c) falls
//     until x = c - 1 and rises after, so x = clamp(c - 1, lp -+ eps_p);
//   P log(P / Q) falls in Q, so Q -> Q_hi = 1 - sum_A exp(lq_a - eps_a) (an
//     upper bound of the true Q(R), never below it, so never infinite); it is
//     convex in P, so P = clamp(Q_hi / e, [1 - sum_A exp(lp_a +- eps_a)]).
// Each term moves by about its first-order error p (|lp - lq + 1| eps_p +
// eps_q), so the bound gives up ~2 eps per token (more when Q(R) is small:
// up to P(R)/Q(R) eps): ~2e-6 with lse ~ 0, ~1e-5 with lse ~ 30 or without
// logsumexp. Sums are in fp64 and their own rounding (a few 2^-52) is allowed
// for; the result is clamped at 0. The guarantee is only as good as the eps
// model: stored top-K log-probs must be fp32 (fp16 would make the error
// ~2^-11 per entry).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/token_scores.h"

namespace qsweep::metrics {

// The error model of stored fp32 top-K log-probs (above): eps_i = kLogProbRelError * (|lp_i| + L),
// L = |lse| + kLseMargin with TokenScores::logsumexp, else kLseBoundWithoutLogsumexp.
inline constexpr double kLogProbRelError = 0x1p-23;
inline constexpr double kLseMargin = 8.0;
inline constexpr double kLseBoundWithoutLogsumexp = 64.0;

// base_rows and cand_rows are [T, V] log-probs (or logits: each row is renormalized).
absl::StatusOr<std::vector<double>> ExactTokenKl(std::span<const float> base_rows,
                                                 std::span<const float> cand_rows,
                                                 int64_t vocab_size);

// Lower bound from the top-K arrays of both runs (K may differ between runs);
// uses each run's logsumexp when given (size T, finite), else L = 64.
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
