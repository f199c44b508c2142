#include "metrics/choice_comparison.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

TEST(ChoiceComparison, SmallTaskByHand) {
  // acc predictions: base (0, 1, 0), cand (1, 1, 0); labels (0, 1, 1):
  // base correct (1, 1, 0), cand (0, 1, 0) -> acc 2/3 -> 1/3, one c->i flip.
  OwnedChoiceScores b({{-1, -2}, {-3, -1}, {-1, -2}}, {0, 1, 1}, {{1, 1}, {1, 1}, {1, 4}});
  OwnedChoiceScores q({{-2, -1}, {-3, -1}, {-1, -2}}, {0, 1, 1}, {{1, 1}, {1, 1}, {1, 4}});
  auto c = CompareChoiceRuns(b.View(), q.View());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->acc.accuracy.delta, -1.0 / 3.0);
  EXPECT_EQ(c->acc.flips.n_correct_to_incorrect, 1);
  EXPECT_EQ(c->acc.flips.n_incorrect_to_correct, 0);
  EXPECT_DOUBLE_EQ(c->acc.mcnemar.p_value, 1.0);  // 2 * P(X <= 0; 1) = 1
  // acc_norm on sample 2: (-1/1, -2/4) -> choice 1 = label: both runs correct there.
  ASSERT_TRUE(c->acc_norm.has_value());
  EXPECT_DOUBLE_EQ(c->acc_norm->base.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(c->acc_norm->candidate.accuracy, 2.0 / 3.0);
  // KL of sample 0: P_base = softmax(-1, -2) = (s, 1-s), P_q = (1-s, s), s = 1/(1+e^-1):
  // KL = s ln(s/(1-s)) + (1-s) ln((1-s)/s) = (2s - 1) * 1.
  const double s = 1.0 / (1.0 + std::exp(-1.0));
  EXPECT_NEAR(c->answer_kl.per_sample[0], 2 * s - 1, 1e-12);
  EXPECT_EQ(c->answer_kl.per_sample[1], 0.0);
  EXPECT_EQ(c->margins.margin.size(), 3u);
  int64_t binned = 0;
  for (const MarginBin& bin : c->margins.bins) binned += bin.count;
  EXPECT_EQ(binned, 3);
}

// An independent straightforward loop over random runs: flips and KL recomputed
// from the raw arrays must match the composed result.
TEST(ChoiceComparison, MatchesStraightforwardLoop) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<double>> rb, rq;
  std::vector<int32_t> labels;
  for (int i = 0; i < 400; ++i) {
    const int n = 2 + static_cast<int>(rng() % 4);
    std::vector<double> x(n), y(n);
    labels.push_back(static_cast<int32_t>(rng() % n));
    for (int j = 0; j < n; ++j) {
      x[j] = -5 + 2 * normal(rng) + (j == labels.back() ? 1.5 : 0.0);
      y[j] = x[j] + 0.8 * normal(rng);
    }
    rb.push_back(x);
    rq.push_back(y);
  }
  OwnedChoiceScores b(rb, labels), q(rq, labels);
  auto c = CompareChoiceRuns(b.View(), q.View());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->acc_norm.has_value());  // no bytes stored
  int c2i = 0, i2c = 0;
  double kl_sum = 0;
  for (size_t i = 0; i < rb.size(); ++i) {
    int pb = 0, pq = 0;
    for (size_t j = 1; j < rb[i].size(); ++j) {
      if (rb[i][j] > rb[i][pb]) pb = j;
      if (rq[i][j] > rq[i][pq]) pq = j;
    }
    c2i += pb == labels[i] && pq != labels[i];
    i2c += pb != labels[i] && pq == labels[i];
    double zb = 0, zq = 0, kl = 0;
    for (size_t j = 0; j < rb[i].size(); ++j) zb += std::exp(rb[i][j]), zq += std::exp(rq[i][j]);
    for (size_t j = 0; j < rb[i].size(); ++j) {
      const double p = std::exp(rb[i][j]) / zb;
      kl += p * std::log(p / (std::exp(rq[i][j]) / zq));
    }
    kl_sum += kl;
  }
  EXPECT_EQ(c->acc.flips.n_correct_to_incorrect, c2i);
  EXPECT_EQ(c->acc.flips.n_incorrect_to_correct, i2c);
  EXPECT_GT(c2i + i2c, 0);
  EXPECT_NEAR(c->answer_kl.summary.mean, kl_sum / rb.size(), 1e-12);
  EXPECT_NEAR(c->acc.intervals.mean_kl.estimate, kl_sum / rb.size(), 1e-12);
  EXPECT_LE(c->acc.intervals.flip_rate.lo, c->acc.flips.flip_rate);
  EXPECT_GE(c->acc.intervals.flip_rate.hi, c->acc.flips.flip_rate);
}

TEST(ChoiceComparison, RefusesOtherTaskSet) {
  OwnedChoiceScores b({{-1, -2}}, {0});
  OwnedChoiceScores q({{-1, -2}}, {1});
  auto c = CompareChoiceRuns(b.View(), q.View());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("not the same task set"));
}

}  // namespace
}  // namespace qsweep::metrics
