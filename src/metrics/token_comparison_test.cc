#include "metrics/token_comparison.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

// V = 2, one token: base (.5, .5), cand (.9, .1); next token is id 0.
struct TwoRuns {
  OwnedTokenScores b, q;
  std::vector<float> rows_b, rows_q;
  TwoRuns() {
    rows_b = {std::log(.5f), std::log(.5f)};
    rows_q = {std::log(.9f), std::log(.1f)};
    b.k = q.k = 1;
    b.nll = {-rows_b[0]};
    q.nll = {-rows_q[0]};
    b.topk_id = {0};
    q.topk_id = {0};
    b.topk_logprob = {rows_b[0]};  // tie in base: id 0 listed first
    q.topk_logprob = {rows_q[0]};
  }
};

TEST(TokenComparison, ExactVersusBound) {
  TwoRuns r;
  auto exact = CompareTokenRuns(r.b.View(), r.q.View(), FullLogProbRows{r.rows_b, r.rows_q, 2});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_FALSE(exact->kl.is_bound);
  EXPECT_NEAR(exact->kl.mean, 0.5108256, 1e-6);  // .5 ln(.5/.9) + .5 ln(.5/.1)
  // Top-1 only: buckets {0} and rest: P = (.5, .5), Q = (.9, .1) -> here the same value.
  auto bound = CompareTokenRuns(r.b.View(), r.q.View());
  ASSERT_TRUE(bound.ok());
  EXPECT_TRUE(bound->kl.is_bound);
  EXPECT_NEAR(bound->kl.mean, 0.5108256, 1e-5);
  EXPECT_LE(bound->kl.mean, exact->kl.mean + 1e-7);
  EXPECT_NEAR(exact->perplexity.ratio, 0.5 / 0.9, 1e-6);  // PPL = 1/p for one token
  EXPECT_NEAR(exact->dp.per_token[0], 0.4, 1e-6);
  EXPECT_EQ(exact->top1.n_same, 1);
  // .5 and .9 sit on bin edges; exp(float(ln p)) may land just below them.
  EXPECT_EQ(exact->base_confidence.count[4] + exact->base_confidence.count[5], 1);
  EXPECT_EQ(exact->candidate_confidence.count[8] + exact->candidate_confidence.count[9], 1);
}

TEST(TokenComparison, BadRows) {
  TwoRuns r;
  std::vector<float> short_rows = {0.0f};
  auto c = CompareTokenRuns(r.b.View(), r.q.View(), FullLogProbRows{short_rows, r.rows_q, 2});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("full log-prob rows have 1 values"));
}

}  // namespace
}  // namespace qsweep::metrics
