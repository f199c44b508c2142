#include "metrics/accuracy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/choice_softmax.h"
#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Accuracy, AccAndAccNormByHand) {
  // sample 0: logprobs (-2, -3), bytes (2, 6): acc -> 0; norm (-1, -0.5) -> 1.
  // sample 1: logprobs (-5, -1, -4), bytes any -> acc 1; norm (-5/5=-1, -1/1=-1, -4/2=-2): tie -> 0.
  // sample 2: one choice -> 0.
  OwnedChoiceScores s({{-2, -3}, {-5, -1, -4}, {-7}}, {1, 1, 0}, {{2, 6}, {5, 1, 2}, {3}});
  auto acc = ScoreChoices(s.View(), ChoiceRule::kAcc);
  ASSERT_TRUE(acc.ok()) << acc.status();
  EXPECT_THAT(acc->prediction, ElementsAre(0, 1, 0));
  EXPECT_THAT(acc->correct, ElementsAre(0, 1, 1));
  EXPECT_EQ(acc->n_correct, 2);
  EXPECT_DOUBLE_EQ(acc->accuracy, 2.0 / 3.0);
  auto norm = ScoreChoices(s.View(), ChoiceRule::kAccNorm);
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_THAT(norm->prediction, ElementsAre(1, 0, 0));
  EXPECT_THAT(norm->correct, ElementsAre(1, 0, 1));
}

TEST(Accuracy, TiesGoToLowestIndex) {
  const std::vector<double> x = {1, 3, 3, 2};
  EXPECT_EQ(ArgMax(x), 1);
  OwnedChoiceScores s({{-1, -1, -1}}, {2});
  auto acc = ScoreChoices(s.View(), ChoiceRule::kAcc);
  ASSERT_TRUE(acc.ok());
  EXPECT_EQ(acc->prediction[0], 0);
}

TEST(Accuracy, AccNormWithoutBytesFails) {
  OwnedChoiceScores s({{-1, -2}}, {0});
  auto r = ScoreChoices(s.View(), ChoiceRule::kAccNorm);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("acc_norm needs choice_bytes"));
}

TEST(Accuracy, InvalidScoresFail) {
  OwnedChoiceScores s({{-1, -2}}, {5});
  EXPECT_EQ(ScoreChoices(s.View(), ChoiceRule::kAcc).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Accuracy, Delta) {
  const std::vector<uint8_t> b = {1, 1, 0, 1}, q = {1, 0, 1, 0};
  auto d = CompareAccuracy(b, q);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->base, 0.75);
  EXPECT_DOUBLE_EQ(d->candidate, 0.5);
  EXPECT_DOUBLE_EQ(d->delta, -0.25);
  const std::vector<uint8_t> short_q = {1};
  EXPECT_THAT(CompareAccuracy(b, short_q).status().message(),
              HasSubstr("baseline has 4 samples, candidate 1"));
}

}  // namespace
}  // namespace qsweep::metrics
