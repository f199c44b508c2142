// Everything the metrics report for one perplexity corpus, baseline vs one
// candidate, in one call: PPL of both and their ratio, token KL, same top-1
// share, Δp of the actual next token, and both runs' confidence histograms.
// Token KL comes from the best source the runs hold: the candidate's exact
// statistics (fp64 over the whole vocabulary, computed on the device
// against the baseline), else both runs' float16 full rows (whose storage
// rounding biases it), else the top-K lower bound.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/confidence_histogram.h"
#include "metrics/exact_token_stats.h"
#include "metrics/next_token_dp.h"
#include "metrics/perplexity.h"
#include "metrics/token_kl.h"
#include "metrics/token_scores.h"
#include "metrics/top1_agreement.h"

namespace qsweep::metrics {

// Full log-prob rows of both runs, [T, V] each, as fp32 (the caller converts fp16).
struct FullLogProbRows {
  std::span<const float> base;
  std::span<const float> candidate;
  int64_t vocab_size = 0;
};

enum class TokenKlSource { kExact, kFloat16Rows, kTopKBound };
const char* TokenKlSourceName(TokenKlSource s);  // "exact", "float16 rows", "top-K lower bound"

struct TokenComparison {
  PerplexityComparison perplexity;
  TokenKlSource kl_source = TokenKlSource::kTopKBound;
  std::vector<double> kl_per_token;  // [T] KL(P_base ‖ P_cand)
  TokenKlSummary kl;                 // kl.is_bound when from top-K
  // From the exact statistics only: the other direction, and llama.cpp's
  // whole summary (both ladders, PPL ratio and difference with paired
  // uncertainties, RMS Δp, same top-1 ± s.e., top-5/10 membership).
  std::vector<double> kl_reverse_per_token;  // [T] KL(P_cand ‖ P_base)
  std::optional<ExactTokenStatsSummary> exact;
  Top1Agreement top1;
  NextTokenDp dp;
  ConfidenceHistogram base_confidence;
  ConfidenceHistogram candidate_confidence;
};

absl::StatusOr<TokenComparison> CompareTokenRuns(
    const TokenScores& base, const TokenScores& cand,
    std::optional<FullLogProbRows> rows = std::nullopt, const ExactTokenStatsView* exact = nullptr);

}  // namespace qsweep::metrics
