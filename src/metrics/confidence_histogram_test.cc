#include "metrics/confidence_histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::ElementsAre;

TEST(ConfidenceHistogram, KnownAnswer) {
  // Top-1 probabilities .05, .15, .95, 1.0, .55, .57 -> bins 0, 1, 9, 9, 5, 5.
  OwnedTokenScores s;
  s.k = 1;
  for (double p : {.05, .15, .95, 1.0, .55, .57}) {
    s.nll.push_back(1.0f);
    s.topk_id.push_back(0);
    s.topk_logprob.push_back(static_cast<float>(std::log(p)));
  }
  auto h = ComputeConfidenceHistogram(s.View());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(h->count, ElementsAre(1, 1, 0, 0, 0, 2, 0, 0, 0, 2));
  EXPECT_DOUBLE_EQ(h->fraction[5], 2.0 / 6.0);
  auto h2 = ComputeConfidenceHistogram(s.View(), 2);
  ASSERT_TRUE(h2.ok());
  EXPECT_THAT(h2->count, ElementsAre(2, 4));
  EXPECT_EQ(ComputeConfidenceHistogram(s.View(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
