#include "metrics/percentile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace qsweep::metrics {
namespace {

TEST(Percentile, MatchesNumpyLinear) {
  // np.percentile([1, 2, 3, 4], q): h = 3q/100.
  //   q=50 -> h=1.5 -> 2 + .5*(3-2) = 2.5;  q=25 -> h=.75 -> 1.75;  q=95 -> h=2.85 -> 3.85.
  const std::vector<double> v = {4, 1, 3, 2};  // unsorted on purpose
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 25), 1.75);
  EXPECT_DOUBLE_EQ(Percentile(v, 95), 3.85);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4.0);
  // np.percentile([10, 0, 5, 7, 1], 90): sorted 0 1 5 7 10, h=3.6 -> 7 + .6*3 = 8.8.
  const std::vector<double> w = {10, 0, 5, 7, 1};
  const std::vector<double> qs = {90, 10};
  const std::vector<double> got = Percentiles(w, qs);
  EXPECT_DOUBLE_EQ(got[0], 8.8);
  EXPECT_DOUBLE_EQ(got[1], 0.4);  // h=0.4 -> 0 + .4*1
}

TEST(Percentile, InfiniteValuesStayInfinite) {
  // An infinite answer KL (candidate gives probability 0 to a choice) must not turn into NaN.
  const double inf = INFINITY;
  const std::vector<double> v = {0.1, inf, inf, inf};
  EXPECT_EQ(Percentile(v, 95), inf);
  EXPECT_EQ(Percentile(v, 50), inf);  // h = 1.5 between inf and inf
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 0.1);
}

TEST(Percentile, SingleAndEmpty) {
  const std::vector<double> one = {3.5};
  EXPECT_DOUBLE_EQ(Percentile(one, 99.9), 3.5);
  EXPECT_TRUE(std::isnan(Percentile(std::vector<double>{}, 50)));
  EXPECT_TRUE(std::isnan(Mean(std::vector<double>{})));
  EXPECT_DOUBLE_EQ(Mean(std::vector<double>{1, 2, 6}), 3.0);
}

}  // namespace
}  // namespace qsweep::metrics
