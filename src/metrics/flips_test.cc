#include "metrics/flips.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qsweep::metrics {
namespace {

using ::testing::ElementsAre;

TEST(Flips, CountsAndRatesByHand) {
  // base: 1 1 0 0 1 ; cand: 1 0 1 0 0 -> c->i at 1, 4; i->c at 2.
  const std::vector<uint8_t> b = {1, 1, 0, 0, 1}, q = {1, 0, 1, 0, 0};
  auto f = CountFlips(b, q);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->n_samples, 5);
  EXPECT_EQ(f->n_correct_to_incorrect, 2);
  EXPECT_EQ(f->n_incorrect_to_correct, 1);
  EXPECT_EQ(f->n_flipped(), 3);
  EXPECT_DOUBLE_EQ(f->correct_to_incorrect_rate, 0.4);
  EXPECT_DOUBLE_EQ(f->incorrect_to_correct_rate, 0.2);
  EXPECT_DOUBLE_EQ(f->flip_rate, 0.6);
  EXPECT_THAT(f->correct_to_incorrect, ElementsAre(0, 1, 0, 0, 1));
  EXPECT_THAT(f->incorrect_to_correct, ElementsAre(0, 0, 1, 0, 0));
  EXPECT_THAT(f->flipped, ElementsAre(0, 1, 1, 0, 1));
}

TEST(Flips, SameAccuracyCanStillFlip) {
  // The paper's point: equal accuracy (2/4), yet every answer changed correctness.
  const std::vector<uint8_t> b = {1, 1, 0, 0}, q = {0, 0, 1, 1};
  auto f = CountFlips(b, q);
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ(f->flip_rate, 1.0);
}

TEST(Flips, MismatchedSizes) {
  const std::vector<uint8_t> b = {1, 1}, q = {1};
  EXPECT_EQ(CountFlips(b, q).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
