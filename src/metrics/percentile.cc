#include "metrics/percentile.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/status_macros.h"

namespace qsweep::metrics {

double PercentileOfSorted(std::span<const double> sorted, double q) {
  QSWEEP_CHECK(q >= 0.0 && q <= 100.0);
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double h = static_cast<double>(sorted.size() - 1) * q / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = h - static_cast<double>(lo);
  // Equal neighbours (also +inf, +inf: an infinite KL) need no interpolation,
  // which would compute inf - inf = NaN.
  if (frac == 0.0 || sorted[lo] == sorted[lo + 1]) return sorted[lo];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

std::vector<double> Percentiles(std::span<const double> values, std::span<const double> qs) {
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> out;
  out.reserve(qs.size());
  for (double q : qs) out.push_back(PercentileOfSorted(sorted, q));
  return out;
}

double Percentile(std::span<const double> values, double q) {
  const double qs[] = {q};
  return Percentiles(values, qs)[0];
}

double Mean(std::span<const double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0.0;
  for (double v : values) s += v;
  return s / static_cast<double>(values.size());
}

}  // namespace qsweep::metrics
