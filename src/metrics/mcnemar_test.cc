#include "metrics/mcnemar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace qsweep::metrics {
namespace {

// Independent reference: the Binomial(n, 1/2) pmf built row by row from
// Pascal's rule, pmf_n(k) = (pmf_{n-1}(k-1) + pmf_{n-1}(k)) / 2, which never
// overflows; then p = min(1, 2 * sum_{k <= min(b,c)} pmf_n(k)).
double ReferenceMcNemar(int b, int c) {
  const int n = b + c;
  std::vector<double> pmf = {1.0};
  for (int m = 1; m <= n; ++m) {
    std::vector<double> next(m + 1, 0.0);
    for (int k = 0; k <= m; ++k)
      next[k] = 0.5 * ((k > 0 ? pmf[k - 1] : 0.0) + (k < m ? pmf[k] : 0.0));
    pmf = std::move(next);
  }
  double cdf = 0.0;
  for (int k = 0; k <= std::min(b, c); ++k) cdf += pmf[k];
  return std::min(1.0, 2.0 * cdf);
}

TEST(McNemar, KnownAnswers) {
  // lgamma-based terms are exact to ~1e-15 relative, not bit-exact.
  // b=1, c=9: CDF(1; 10) = (C(10,0) + C(10,1)) / 1024 = 11/1024, p = 22/1024.
  EXPECT_NEAR(McNemarExact(1, 9).p_value, 0.021484375, 1e-15);
  EXPECT_NEAR(McNemarExact(9, 1).p_value, 0.021484375, 1e-15);
  // b=3, c=7: (1 + 10 + 45 + 120) / 1024 = 176/1024, p = 352/1024.
  EXPECT_NEAR(McNemarExact(3, 7).p_value, 0.34375, 1e-14);
  // b=0, c=5: 2 / 32.
  EXPECT_NEAR(McNemarExact(0, 5).p_value, 0.0625, 1e-15);
  EXPECT_EQ(McNemarExact(0, 0).p_value, 1.0);
  EXPECT_EQ(McNemarExact(4, 4).p_value, 1.0);
  EXPECT_EQ(McNemarExact(4, 5).p_value, 1.0);  // 2 * CDF(4; 9) = 2 * 0.5
  EXPECT_EQ(McNemarExact(2, 7).b, 2);
  EXPECT_EQ(McNemarExact(2, 7).c, 7);
}

TEST(McNemar, MatchesPascalReference) {
  for (int b : {0, 1, 2, 5, 17, 40, 150, 499}) {
    for (int c : {0, 1, 3, 8, 33, 60, 200, 501}) {
      const double ref = ReferenceMcNemar(b, c);
      const double got = McNemarExact(b, c).p_value;
      EXPECT_NEAR(got, ref, 1e-12 + 1e-10 * ref) << "b=" << b << " c=" << c;
    }
  }
}

TEST(McNemar, LargeCountsInLogSpace) {
  // 2^-999 is representable: b=0, c=1000 -> p = 2 * 2^-1000.
  EXPECT_NEAR(McNemarExact(0, 1000).p_value / std::ldexp(1.0, -999), 1.0, 1e-9);
  // n = 1e6, |b - c| = 2000 = 2 sd: normal approximation with continuity
  // correction gives 2 * Phi(-(1000 - 0.5) / 500) = 0.04561.
  const double p = McNemarExact(499000, 501000).p_value;
  EXPECT_NEAR(p, 0.04561, 5e-4);
  EXPECT_EQ(McNemarExact(500000, 500000).p_value, 1.0);
  const double tiny = McNemarExact(0, 1000000).p_value;  // underflows to 0, never NaN
  EXPECT_FALSE(std::isnan(tiny));
  EXPECT_GE(tiny, 0.0);
}

TEST(McNemar, LogCdfComplementBranch) {
  // P(X <= 7; 10) = 1 - P(X <= 2) = 1 - 56/1024.
  EXPECT_NEAR(std::exp(LogBinomialHalfCdf(7, 10)), 1.0 - 56.0 / 1024.0, 1e-15);
  EXPECT_EQ(LogBinomialHalfCdf(10, 10), 0.0);
}

}  // namespace
}  // namespace qsweep::metrics
