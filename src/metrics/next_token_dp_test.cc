#include "metrics/next_token_dp.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qsweep::metrics {
namespace {

TEST(NextTokenDp, KnownAnswer) {
  // p_base = (.5, .8, .2, .9, .6), p_q = (.4, .8, .3, .5, .6) -> dp = (-.1, 0, .1, -.4, 0).
  // RMS = sqrt((.01 + .01 + .16) / 5) = sqrt(.036); sorted (-.4, -.1, 0, 0, .1):
  // p1: h = .04 -> -.4 + .04 * .3 = -.388; p5: h = .2 -> -.34; p50 = 0; p95: h = 3.8 -> .08;
  // p99: h = 3.96 -> .096.
  std::vector<float> b, q;
  for (double p : {.5, .8, .2, .9, .6}) b.push_back(static_cast<float>(-std::log(p)));
  for (double p : {.4, .8, .3, .5, .6}) q.push_back(static_cast<float>(-std::log(p)));
  auto d = ComputeNextTokenDp(b, q);
  ASSERT_TRUE(d.ok());
  const double tol = 1e-6;  // nll stored as float
  EXPECT_NEAR(d->per_token[3], -0.4, tol);
  EXPECT_NEAR(d->rms, std::sqrt(0.036), tol);
  EXPECT_NEAR(d->mean, -0.08, tol);
  EXPECT_NEAR(d->p1, -0.388, tol);
  EXPECT_NEAR(d->p5, -0.34, tol);
  EXPECT_NEAR(d->p50, 0.0, tol);
  EXPECT_NEAR(d->p95, 0.08, tol);
  EXPECT_NEAR(d->p99, 0.096, tol);
}

TEST(NextTokenDp, BadInputs) {
  const std::vector<float> a = {1, 2}, b = {1};
  EXPECT_EQ(ComputeNextTokenDp(a, b).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeNextTokenDp({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
