#include "metrics/top1_agreement.h"

#include <gtest/gtest.h>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

TEST(Top1Agreement, KnownAnswer) {
  // Top-1 ids: base (4, 7, 1, 1), cand (4, 2, 1, 3) -> 2 of 4 agree (same top-2 sets don't matter).
  OwnedTokenScores b, q;
  b.k = q.k = 2;
  b.nll = q.nll = {1, 1, 1, 1};
  b.topk_id = {4, 0, 7, 2, 1, 5, 1, 6};
  q.topk_id = {4, 0, 2, 7, 1, 5, 3, 1};
  b.topk_logprob = q.topk_logprob = {-.5f, -1, -.5f, -1, -.5f, -1, -.5f, -1};
  auto a = ComputeTop1Agreement(b.View(), q.View());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->n_same, 2);
  EXPECT_EQ(a->n_tokens, 4);
  EXPECT_DOUBLE_EQ(a->fraction, 0.5);
  q.nll.pop_back();
  EXPECT_EQ(ComputeTop1Agreement(b.View(), q.View()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
