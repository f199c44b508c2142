#include "metrics/bootstrap.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"
#include "metrics/percentile.h"

namespace qsweep::metrics {

uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n) {
  // Accept x < limit, limit = largest multiple of n that fits in [0, 2^64).
  const uint64_t rem = (std::numeric_limits<uint64_t>::max() % n + 1) % n;  // 2^64 mod n
  const uint64_t limit = 0 - rem;  // 2^64 - rem (mod 2^64); 0 means every draw is accepted
  while (true) {
    const uint64_t x = rng();
    if (limit == 0 || x < limit) return x % n;
  }
}

absl::StatusOr<std::vector<Interval>> PairedBootstrapMeans(
    std::span<const std::span<const double>> series, const BootstrapOptions& options) {
  if (options.replicates < 1)
    return absl::InvalidArgumentError(
        absl::StrFormat("bootstrap: %d replicates, needs >= 1", options.replicates));
  if (!(options.confidence > 0.0 && options.confidence < 1.0))
    return absl::InvalidArgumentError(
        absl::StrFormat("bootstrap: confidence %g, must be in (0, 1)", options.confidence));
  if (series.empty()) return std::vector<Interval>{};
  const size_t n = series[0].size();
  if (n == 0) return absl::InvalidArgumentError("bootstrap: no samples");
  for (size_t k = 1; k < series.size(); ++k)
    if (series[k].size() != n)
      return absl::InvalidArgumentError(absl::StrFormat(
          "bootstrap: series %d has %d samples, series 0 has %d", k, series[k].size(), n));

  const size_t m = series.size();
  std::vector<std::vector<double>> means(m, std::vector<double>(options.replicates));
  std::vector<double> sums(m);
  std::mt19937_64 rng(options.seed);
  for (int r = 0; r < options.replicates; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t idx = UniformIndex(rng, n);
      for (size_t k = 0; k < m; ++k) sums[k] += series[k][idx];
    }
    for (size_t k = 0; k < m; ++k) means[k][r] = sums[k] / static_cast<double>(n);
  }
  const double alpha = 100.0 * (1.0 - options.confidence) / 2.0;
  const double qs[] = {alpha, 100.0 - alpha};
  std::vector<Interval> out(m);
  for (size_t k = 0; k < m; ++k) {
    const std::vector<double> q = Percentiles(means[k], qs);
    out[k] = Interval{Mean(series[k]), q[0], q[1]};
  }
  return out;
}

absl::StatusOr<ChoiceIntervals> BootstrapChoiceMetrics(std::span<const uint8_t> base_correct,
                                                       std::span<const uint8_t> cand_correct,
                                                       std::span<const double> answer_kl,
                                                       const BootstrapOptions& options) {
  const size_t n = base_correct.size();
  if (cand_correct.size() != n || answer_kl.size() != n)
    return absl::InvalidArgumentError(absl::StrFormat(
        "bootstrap: baseline has %d samples, candidate %d, answer KL %d", n, cand_correct.size(),
        answer_kl.size()));
  std::vector<double> delta(n), flip(n), c2i(n), i2c(n);
  for (size_t i = 0; i < n; ++i) {
    const bool b = base_correct[i] != 0, q = cand_correct[i] != 0;
    delta[i] = static_cast<double>(q) - static_cast<double>(b);
    flip[i] = b != q;
    c2i[i] = b && !q;
    i2c[i] = !b && q;
  }
  const std::span<const double> series[] = {delta, flip, c2i, i2c, answer_kl};
  auto cis = PairedBootstrapMeans(series, options);
  if (!cis.ok()) return cis.status();
  const std::vector<Interval>& v = *cis;
  return ChoiceIntervals{v[0], v[1], v[2], v[3], v[4]};
}

}  // namespace qsweep::metrics
