// The summary llama.cpp's `perplexity --kl-divergence` prints, from per-token
// statistics the device computed exactly (fp64, full vocabulary) against the
// baseline: for each scored token t of a corpus
//   kl_base_cand[t] = KL(P_base || P_cand), kl_cand_base[t] = KL(P_cand || P_base),
//   base_nll[t], cand_nll[t] = -log p(actual next token), base_top1[t] = the baseline's argmax,
// plus the candidate's own top-K ids (sorted by descending probability).
//
// With n = T tokens, mean(x) = sum x / n, s(x) the sample standard deviation
// (n - 1 denominator), se(x) = s(x) / sqrt(n) the standard error of mean(x),
// and cov(x, y) = sum (x - mean x)(y - mean y) / (n - 1) / n the covariance of
// two means over the same tokens (llama.cpp's mean_and_uncertainty / covariance):
//   KL ladder (each direction): mean +- se, max, p99.9, p99, p95, p90, median,
//     p10, p5, p1, p0.1, min (percentiles: metrics/percentile.h, numpy linear);
//   PPL_b = exp(mean nll_b), PPL_c = exp(mean nll_c);
//   ln ratio = mean(d), d_t = nll_c[t] - nll_b[t], +- se(d);
//   ratio = exp(ln ratio) = PPL_c / PPL_b, +- ratio * se(d) (delta method);
//   diff = PPL_c - PPL_b, +- sqrt(PPL_c^2 se(nll_c)^2 + PPL_b^2 se(nll_b)^2
//                               - 2 PPL_c PPL_b cov(nll_c, nll_b))   (delta method, paired);
//   dp_t = exp(-nll_c[t]) - exp(-nll_b[t]);  rms dp = sqrt(mean dp^2),
//     +- se(dp^2) / (2 rms)   (delta method; 0 when every dp_t is 0);
//   same top-1 f = share of t with cand topk_id[t, 0] == base_top1[t], +- sqrt(f (1 - f) / n);
//   base top-1 in cand top-5 / top-10: share of t with base_top1[t] among the
//     candidate's first 5 / 10 ids (NaN when the candidate stored fewer than 5 / 10).
// Every standard error is NaN for n < 2.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep::metrics {

// llama.cpp's KL ladder for one direction. Percentiles are NaN and n is 0 for no tokens.
struct KlLadder {
  int64_t n = 0;
  double mean = 0, mean_stderr = 0;  // stderr: sample std (n - 1) / sqrt(n); NaN for n < 2
  double max = 0, p999 = 0, p99 = 0, p95 = 0, p90 = 0, median = 0, p10 = 0, p5 = 0, p1 = 0,
         p01 = 0, min = 0;
};

KlLadder SummarizeKl(std::span<const double> per_token);

// One candidate's exact per-token statistics on one corpus: a view over arrays the caller owns.
struct ExactTokenStatsView {
  std::string what;  // names the source in error messages, e.g. "w4.h5:/ppl/wiki"
  int64_t n_tokens = 0;                  // T
  std::span<const double> kl_base_cand;  // [T] KL(P_base || P_cand), finite, >= 0
  std::span<const double> kl_cand_base;  // [T] KL(P_cand || P_base), finite, >= 0
  std::span<const double> base_nll;      // [T] finite, >= 0
  std::span<const double> cand_nll;      // [T] finite, >= 0
  std::span<const int32_t> base_top1;    // [T] the baseline's argmax id
  std::span<const int32_t> cand_topk_id; // [T, K] the candidate's top-K ids, descending prob
  int64_t cand_top_k = 0;                // K >= 1
};

struct ExactTokenStatsSummary {
  KlLadder kl_base_cand, kl_cand_base;
  double ppl_base = 0, ppl_cand = 0;
  double ppl_ratio = 0, ppl_ratio_stderr = 0;
  double ln_ppl_ratio = 0, ln_ppl_ratio_stderr = 0;
  double ppl_diff = 0, ppl_diff_stderr = 0;
  double rms_dp = 0, rms_dp_stderr = 0;
  double same_top1 = 0, same_top1_stderr = 0;
  double base_top1_in_cand_top5 = 0, base_top1_in_cand_top10 = 0;  // NaN when K < 5 / K < 10
  int64_t n_tokens = 0;
};

// Validates sizes (T >= 1, K >= 1), KL finite and >= 0 (the producer clamps
// its rounding, so a negative KL is an error), nll finite and >= 0, ids >= 0;
// errors name `what` and the token.
absl::StatusOr<ExactTokenStatsSummary> SummarizeExactTokenStats(const ExactTokenStatsView& v);

// The summary as named numbers, in the ladder's order, for every writer and
// reader of it (metrics file attributes, JSON, tables): "kl_mean",
// "kl_mean_stderr", "kl_max", "kl_p999", ... "kl_min", the same with
// "kl_reverse_" for KL(P_cand ‖ P_base), then "ppl_base", "ppl", "ppl_ratio",
// "ppl_ratio_stderr", "ln_ppl_ratio", "ln_ppl_ratio_stderr", "ppl_diff",
// "ppl_diff_stderr", "rms_dp", "rms_dp_stderr", "same_top1",
// "same_top1_stderr", "top1_in_top5", "top1_in_top10".
std::vector<std::pair<std::string, double>> ExactStatsFields(const ExactTokenStatsSummary& s);

}  // namespace qsweep::metrics
