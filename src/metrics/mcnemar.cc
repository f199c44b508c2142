#include "metrics/mcnemar.h"

#include <algorithm>
#include <cmath>

#include "core/status_macros.h"

namespace qsweep::metrics {

double LogBinomialHalfCdf(int64_t k, int64_t n) {
  QSWEEP_CHECK(n >= 0 && k >= 0 && k <= n);
  if (2 * k >= n) {
    // The largest term (at n/2) is included; sum from the top term down is fine
    // but P(X <= k) = 1 - P(X >= k+1) = 1 - P(X <= n-k-1) is as accurate here.
    if (k == n) return 0.0;
    return std::log1p(-std::exp(LogBinomialHalfCdf(n - k - 1, n)));
  }
  // Terms t_j = C(n, j) / 2^n grow with j for j < n/2, so t_k is the largest
  // term of the sum: factor it out, then add t_{j-1}/t_k down from j = k using
  // t_{j-1} = t_j * j / (n - j + 1), stopping once terms no longer matter.
  const double dn = static_cast<double>(n), dk = static_cast<double>(k);
  const double log_tk =
      std::lgamma(dn + 1) - std::lgamma(dk + 1) - std::lgamma(dn - dk + 1) - dn * std::log(2.0);
  double sum = 1.0, term = 1.0;
  for (int64_t j = k; j > 0; --j) {
    term *= static_cast<double>(j) / static_cast<double>(n - j + 1);
    sum += term;
    if (term < sum * 1e-18) break;
  }
  return log_tk + std::log(sum);
}

McNemar McNemarExact(int64_t b, int64_t c) {
  QSWEEP_CHECK(b >= 0 && c >= 0);
  McNemar m{b, c, 1.0};
  const int64_t n = b + c;
  if (n == 0) return m;
  const double log_p = std::log(2.0) + LogBinomialHalfCdf(std::min(b, c), n);
  m.p_value = std::min(1.0, std::exp(log_p));
  return m;
}

}  // namespace qsweep::metrics
