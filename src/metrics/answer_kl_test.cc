#include "metrics/answer_kl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

TEST(AnswerKl, KnownAnswer) {
  // Sample 0: P_base = [0.5, 0.5] (scores -3, -3), P_q = [0.9, 0.1] (scores
  // ln 9 - 7, -7; only differences matter):
  //   KL = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = -0.293893 + 0.804719 = 0.510826.
  // Sample 1: identical 3-choice scores -> 0.  Sample 2: single choice -> 0.
  OwnedChoiceScores b({{-3, -3}, {-1, -2, -4}, {-9}}, {0, 1, 0});
  OwnedChoiceScores q({{std::log(9.0) - 7, -7}, {-1, -2, -4}, {-2}}, {0, 1, 0});
  auto kl = ComputeAnswerKl(b.View(), q.View());
  ASSERT_TRUE(kl.ok()) << kl.status();
  const double expect = 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1);
  EXPECT_NEAR(expect, 0.5108256, 1e-7);
  ASSERT_EQ(kl->per_sample.size(), 3u);
  EXPECT_NEAR(kl->per_sample[0], expect, 1e-12);
  EXPECT_NEAR(kl->per_sample[1], 0.0, 1e-15);
  EXPECT_NEAR(kl->per_sample[2], 0.0, 1e-15);
  // Summary of {k, 0, 0}: mean k/3, median 0, p95: h = 2 * .95 = 1.9 -> 0 + .9 k, max k.
  EXPECT_NEAR(kl->summary.mean, expect / 3, 1e-12);
  EXPECT_NEAR(kl->summary.median, 0.0, 1e-15);
  EXPECT_NEAR(kl->summary.p95, 0.9 * expect, 1e-12);
  EXPECT_NEAR(kl->summary.max, expect, 1e-12);
}

TEST(AnswerKl, StableForHugeScores) {
  // Scores around -1e4 would underflow a naive exp; log-sum-exp keeps them.
  OwnedChoiceScores b({{-10000, -10000}}, {0});
  OwnedChoiceScores q({{-20000 + std::log(9.0), -20000}}, {0});
  auto kl = ComputeAnswerKl(b.View(), q.View());
  ASSERT_TRUE(kl.ok());
  EXPECT_NEAR(kl->per_sample[0], 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1), 1e-9);
}

TEST(AnswerKl, MatchesDirectSoftmaxOnRandomScores) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<std::vector<double>> rb, rq;
  std::vector<int32_t> labels;
  for (int i = 0; i < 200; ++i) {
    const int c = 2 + i % 4;
    std::vector<double> x(c), y(c);
    for (int j = 0; j < c; ++j) {
      x[j] = normal(rng) - 20;
      y[j] = x[j] + 0.5 * normal(rng);
    }
    rb.push_back(x);
    rq.push_back(y);
    labels.push_back(0);
  }
  OwnedChoiceScores b(rb, labels), q(rq, labels);
  auto kl = ComputeAnswerKl(b.View(), q.View());
  ASSERT_TRUE(kl.ok());
  for (int i = 0; i < 200; ++i) {
    // Straightforward: probabilities by exp / sum, then sum p log(p/q).
    double zb = 0, zq = 0;
    for (double v : rb[i]) zb += std::exp(v);
    for (double v : rq[i]) zq += std::exp(v);
    double ref = 0;
    for (size_t j = 0; j < rb[i].size(); ++j) {
      const double p = std::exp(rb[i][j]) / zb, qq = std::exp(rq[i][j]) / zq;
      ref += p * std::log(p / qq);
    }
    EXPECT_NEAR(kl->per_sample[i], ref, 1e-10) << i;
    EXPECT_GE(kl->per_sample[i], 0.0);
  }
}

TEST(AnswerKl, ZeroCandidateProbabilityGivesInfinity) {
  // The candidate gives choice 1 probability 0 where the baseline gives it
  // 1/(1+e): KL = +inf, and the summary keeps it (no NaN).
  const double inf = INFINITY;
  OwnedChoiceScores b({{-1, -2}, {-1, -1}}, {0, 0});
  OwnedChoiceScores q({{-1, -inf}, {-1, -1}}, {0, 0});
  auto kl = ComputeAnswerKl(b.View(), q.View());
  ASSERT_TRUE(kl.ok()) << kl.status();
  EXPECT_EQ(kl->per_sample[0], inf);
  EXPECT_EQ(kl->summary.max, inf);
  EXPECT_EQ(kl->summary.mean, inf);
  // The reverse (baseline 0, candidate > 0) contributes nothing: 0 log 0 = 0.
  auto rev = ComputeAnswerKl(q.View(), b.View());
  ASSERT_TRUE(rev.ok());
  EXPECT_NEAR(rev->per_sample[0], std::log(1.0 / (1.0 / (1.0 + std::exp(-1.0)))), 1e-12);
}

TEST(AnswerKl, RefusesMismatchedRuns) {
  OwnedChoiceScores b({{-1, -2}}, {0});
  OwnedChoiceScores q({{-1, -2, -3}}, {0});
  auto kl = ComputeAnswerKl(b.View(), q.View());
  EXPECT_EQ(kl.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(kl.status().message(), HasSubstr("not the same task set"));
}

}  // namespace
}  // namespace qsweep::metrics
