#include "metrics/next_token_dp.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "metrics/percentile.h"

namespace qsweep::metrics {

absl::StatusOr<NextTokenDp> ComputeNextTokenDp(std::span<const float> base_nll,
                                               std::span<const float> cand_nll) {
  if (base_nll.size() != cand_nll.size())
    return absl::InvalidArgumentError(absl::StrFormat(
        "next-token dp: baseline has %d tokens, candidate %d", base_nll.size(), cand_nll.size()));
  if (base_nll.empty()) return absl::InvalidArgumentError("next-token dp: no tokens");
  NextTokenDp d;
  d.per_token.resize(base_nll.size());
  double ss = 0.0;
  for (size_t t = 0; t < base_nll.size(); ++t) {
    d.per_token[t] = std::exp(-double{cand_nll[t]}) - std::exp(-double{base_nll[t]});
    ss += d.per_token[t] * d.per_token[t];
  }
  d.rms = std::sqrt(ss / static_cast<double>(base_nll.size()));
  d.mean = Mean(d.per_token);
  const double qs[] = {1.0, 5.0, 50.0, 95.0, 99.0};
  const std::vector<double> p = Percentiles(d.per_token, qs);
  d.p1 = p[0];
  d.p5 = p[1];
  d.p50 = p[2];
  d.p95 = p[3];
  d.p99 = p[4];
  return d;
}

}  // namespace qsweep::metrics
