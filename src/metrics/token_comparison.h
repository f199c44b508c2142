// Everything the metrics report for one perplexity corpus, baseline vs one
// candidate, in one call: PPL of both and their ratio, token KL (exact when
// full rows are given, else the top-K lower bound), same top-1 share, Δp of
// the actual next token, and both runs' confidence histograms.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/confidence_histogram.h"
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

struct TokenComparison {
  PerplexityComparison perplexity;
  std::vector<double> kl_per_token;  // [T]
  TokenKlSummary kl;                 // kl.is_bound when from top-K
  Top1Agreement top1;
  NextTokenDp dp;
  ConfidenceHistogram base_confidence;
  ConfidenceHistogram candidate_confidence;
};

absl::StatusOr<TokenComparison> CompareTokenRuns(
    const TokenScores& base, const TokenScores& cand,
    std::optional<FullLogProbRows> rows = std::nullopt);

}  // namespace qsweep::metrics
