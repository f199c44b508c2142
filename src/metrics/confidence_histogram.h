// Confidence distribution of one run: histogram of its top-1 probability
// exp(topk_logprob[t, 0]) over n_bins equal bins of [0, 1] (default 10, bins of
// 0.1). Bin k is [k/n, (k+1)/n); 1.0 (and rounding just above it) falls in the
// last bin.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/token_scores.h"

namespace qsweep::metrics {

struct ConfidenceHistogram {
  std::vector<int64_t> count;    // [n_bins]
  std::vector<double> fraction;  // [n_bins] count / T (NaN for T = 0)
};

absl::StatusOr<ConfidenceHistogram> ComputeConfidenceHistogram(const TokenScores& s,
                                                               int n_bins = 10);

}  // namespace qsweep::metrics
