// The reference the exact token statistics are checked against: KL(p‖q) in
// fp64 from two fp32 log-prob rows of v entries, each renormalized.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace qsweep::testing {

inline double KlFromRows(const float* lp, const float* lq, int64_t v) {
  auto lse = [v](const float* row) {
    double m = -INFINITY, s = 0;
    for (int64_t i = 0; i < v; ++i) m = std::max(m, double{row[i]});
    for (int64_t i = 0; i < v; ++i) s += std::exp(row[i] - m);
    return m + std::log(s);
  };
  const double a = lse(lp), b = lse(lq);
  double kl = 0;
  for (int64_t i = 0; i < v; ++i) kl += std::exp(lp[i] - a) * ((lp[i] - a) - (lq[i] - b));
  return kl;
}

}  // namespace qsweep::testing
