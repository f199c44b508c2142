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
  // Both runs' log-probs are normalized: log-sum-exp 0 (what bounds their rounding).
  const std::vector<float> lse = {0.0f};
  TokenScores bv = r.b.View(), qv = r.q.View();
  bv.logsumexp = qv.logsumexp = lse;
  auto bound = CompareTokenRuns(bv, qv);
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

TEST(TokenComparison, ExactStatisticsComeFirst) {
  // Given the device's exact statistics, they are the token KL (both
  // directions), not the float16 rows, and not a bound.
  TwoRuns r;
  const std::vector<double> kl = {0.5108256}, back = {0.3680642}, bn = {-std::log(.5)}, cn = {-std::log(.9)};
  const std::vector<int32_t> top1 = {0};
  ExactTokenStatsView v;
  v.what = "cand.h5:/ppl/x";
  v.n_tokens = 1;
  v.kl_base_cand = kl;
  v.kl_cand_base = back;
  v.base_nll = bn;
  v.cand_nll = cn;
  v.base_top1 = top1;
  v.cand_topk_id = r.q.topk_id;
  v.cand_top_k = 1;
  auto c = CompareTokenRuns(r.b.View(), r.q.View(), FullLogProbRows{r.rows_b, r.rows_q, 2}, &v);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kl_source, TokenKlSource::kExact);
  EXPECT_FALSE(c->kl.is_bound);
  EXPECT_EQ(c->kl_per_token, kl);
  EXPECT_EQ(c->kl_reverse_per_token, back);
  ASSERT_TRUE(c->exact.has_value());
  EXPECT_EQ(c->exact->kl_cand_base.mean, back[0]);
  EXPECT_EQ(c->exact->same_top1, 1.0);
  v.n_tokens = 2;
  auto wrong = CompareTokenRuns(r.b.View(), r.q.View(), std::nullopt, &v);
  EXPECT_THAT(wrong.status().message(), HasSubstr("cand.h5:/ppl/x"));
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
