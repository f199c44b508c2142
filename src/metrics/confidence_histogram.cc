#include "metrics/confidence_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep::metrics {

absl::StatusOr<ConfidenceHistogram> ComputeConfidenceHistogram(const TokenScores& s, int n_bins) {
  if (n_bins < 1)
    return absl::InvalidArgumentError(absl::StrFormat("confidence histogram: %d bins", n_bins));
  QSWEEP_RETURN_IF_ERROR(ValidateTokenScores(s));
  ConfidenceHistogram h;
  h.count.assign(n_bins, 0);
  for (int64_t t = 0; t < s.n_tokens; ++t) {
    const double p = std::exp(double{s.TopLogProb(t, 0)});
    const int bin = std::clamp(static_cast<int>(std::floor(p * n_bins)), 0, n_bins - 1);
    ++h.count[bin];
  }
  h.fraction.resize(n_bins);
  for (int k = 0; k < n_bins; ++k)
    h.fraction[k] = s.n_tokens ? static_cast<double>(h.count[k]) / static_cast<double>(s.n_tokens)
                               : std::numeric_limits<double>::quiet_NaN();
  return h;
}

}  // namespace qsweep::metrics
