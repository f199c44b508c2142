#include "metrics/top_margin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

std::vector<double> Logs(std::vector<double> p) {
  for (double& v : p) v = std::log(v);
  return p;
}

TEST(TopMargin, KnownAnswer) {
  // s0: P_base (.6, .25, .15): top 0, margin .35 -> bin [.3, .4); P_q (.3, .6, .1): dp = .3 - .6 = -.3; flipped.
  // s1: P_base (.5, .5): tie -> top 0, margin 0 -> bin [0, .1); P_q (.6, .4): dp = +.1; not flipped.
  // s2: one choice: margin 1 -> last bin [.9, 1]; dp 0.
  // s3: P_base (.05, .95): top 1, margin .9 -> last bin; P_q (.25, .75): dp = -.2; flipped.
  OwnedChoiceScores b({Logs({.6, .25, .15}), Logs({.5, .5}), {-3}, Logs({.05, .95})}, {0, 0, 0, 1});
  OwnedChoiceScores q({Logs({.3, .6, .1}), Logs({.6, .4}), {-1}, Logs({.25, .75})}, {0, 0, 0, 1});
  const std::vector<uint8_t> flipped = {1, 0, 0, 1};
  auto m = ComputeTopMargins(b.View(), q.View(), flipped);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_NEAR(m->margin[0], 0.35, 1e-12);
  EXPECT_NEAR(m->margin[1], 0.0, 1e-12);
  EXPECT_NEAR(m->margin[2], 1.0, 1e-12);
  EXPECT_NEAR(m->margin[3], 0.9, 1e-12);
  EXPECT_NEAR(m->dp[0], -0.3, 1e-12);
  EXPECT_NEAR(m->dp[1], 0.1, 1e-12);
  EXPECT_NEAR(m->dp[3], -0.2, 1e-12);
  ASSERT_EQ(m->bins.size(), 10u);
  EXPECT_EQ(m->bins[3].count, 1);
  EXPECT_EQ(m->bins[3].flip_probability, 1.0);
  EXPECT_NEAR(m->bins[3].mean_abs_dp, 0.3, 1e-12);
  EXPECT_NEAR(m->bins[3].mean_dp, -0.3, 1e-12);
  EXPECT_EQ(m->bins[0].count, 1);
  EXPECT_EQ(m->bins[0].flip_probability, 0.0);
  EXPECT_NEAR(m->bins[0].mean_abs_dp, 0.1, 1e-12);
  // margin .9 may round just below .9 -> bin 8 or 9; margin 1.0 is always bin 9.
  EXPECT_EQ(m->bins[8].count + m->bins[9].count, 2);
  EXPECT_EQ(m->bins[8].n_flipped + m->bins[9].n_flipped, 1);
  EXPECT_TRUE(std::isnan(m->bins[5].flip_probability));
  EXPECT_EQ(m->n_outside, 0);
}

TEST(TopMargin, CustomEdgesAndOutside) {
  OwnedChoiceScores b({Logs({.6, .4}), Logs({.9, .1})}, {0, 0});  // margins .2, .8
  const std::vector<uint8_t> flipped = {0, 1};
  const std::vector<double> edges = {0.0, 0.5};
  auto m = ComputeTopMargins(b.View(), b.View(), flipped, edges);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->bins.size(), 1u);
  EXPECT_EQ(m->bins[0].count, 1);
  EXPECT_EQ(m->n_outside, 1);
  EXPECT_NEAR(m->dp[0], 0.0, 1e-15);
}

TEST(TopMargin, BadInputs) {
  OwnedChoiceScores b({Logs({.6, .4})}, {0});
  const std::vector<uint8_t> wrong = {0, 1};
  EXPECT_THAT(ComputeTopMargins(b.View(), b.View(), wrong).status().message(),
              HasSubstr("flip mask has 2 entries, expected 1"));
  const std::vector<uint8_t> ok = {0};
  const std::vector<double> edges = {0.0, 0.5, 0.5};
  EXPECT_THAT(ComputeTopMargins(b.View(), b.View(), ok, edges).status().message(),
              HasSubstr("bin edges must increase"));
}

}  // namespace
}  // namespace qsweep::metrics
