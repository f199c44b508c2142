#include "metrics/top_margin.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "metrics/choice_softmax.h"

namespace qsweep::metrics {
namespace {

// Index of the bin holding x, or -1 when outside [edges.front, edges.back].
int BinOf(std::span<const double> edges, double x) {
  if (!(x >= edges.front() && x <= edges.back())) return -1;
  if (x == edges.back()) return static_cast<int>(edges.size()) - 2;
  const auto it = std::upper_bound(edges.begin(), edges.end(), x);
  return static_cast<int>(it - edges.begin()) - 1;
}

}  // namespace

absl::StatusOr<TopMargins> ComputeTopMargins(const ChoiceScores& base, const ChoiceScores& cand,
                                             std::span<const uint8_t> flipped,
                                             std::span<const double> edges) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedChoiceScores(base, cand));
  if (flipped.size() != static_cast<size_t>(base.n_samples))
    return absl::InvalidArgumentError(absl::StrFormat(
        "top margin: flip mask has %d entries, expected %d samples", flipped.size(), base.n_samples));
  if (edges.size() < 2)
    return absl::InvalidArgumentError("top margin: needs at least two bin edges");
  for (size_t k = 1; k < edges.size(); ++k)
    if (!(edges[k] > edges[k - 1]))
      return absl::InvalidArgumentError(absl::StrFormat(
          "top margin: bin edges must increase, edge %d (%g) <= edge %d (%g)", k, edges[k], k - 1,
          edges[k - 1]));

  TopMargins out;
  out.margin.resize(base.n_samples);
  out.dp.resize(base.n_samples);
  const size_t nb = edges.size() - 1;
  std::vector<double> sum_abs(nb, 0.0), sum_dp(nb, 0.0);
  out.bins.resize(nb);
  for (size_t k = 0; k < nb; ++k) {
    out.bins[k].lo = edges[k];
    out.bins[k].hi = edges[k + 1];
  }
  std::vector<double> lp, lq;
  for (int64_t i = 0; i < base.n_samples; ++i) {
    const int c = base.n_choices[i];
    SampleLogSoftmax(base, i, &lp);
    SampleLogSoftmax(cand, i, &lq);
    const int top = ArgMax(lp);
    double p1 = std::exp(lp[top]), p2 = 0.0;
    for (int j = 0; j < c; ++j)
      if (j != top) p2 = std::max(p2, std::exp(lp[j]));
    out.margin[i] = p1 - p2;
    out.dp[i] = std::exp(lq[top]) - p1;
    const int bin = BinOf(edges, out.margin[i]);
    if (bin < 0) {
      ++out.n_outside;
      continue;
    }
    MarginBin& b = out.bins[bin];
    ++b.count;
    b.n_flipped += flipped[i] != 0;
    sum_abs[bin] += std::abs(out.dp[i]);
    sum_dp[bin] += out.dp[i];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (size_t k = 0; k < nb; ++k) {
    MarginBin& b = out.bins[k];
    const double n = static_cast<double>(b.count);
    b.flip_probability = b.count ? b.n_flipped / n : nan;
    b.mean_abs_dp = b.count ? sum_abs[k] / n : nan;
    b.mean_dp = b.count ? sum_dp[k] / n : nan;
  }
  return out;
}

}  // namespace qsweep::metrics
