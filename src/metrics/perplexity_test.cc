#include "metrics/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace qsweep::metrics {
namespace {

TEST(Perplexity, KnownAnswers) {
  // nll (1, 2, 3): mean 2, PPL e^2 = 7.389056.
  const std::vector<float> b = {1, 2, 3};
  auto p = ComputePerplexity(b);
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->mean_nll, 2.0);
  EXPECT_NEAR(p->ppl, 7.389056, 1e-6);
  // Candidate (1.5, 2.5, 3.5): every token +0.5 -> ratio e^0.5, ln ratio 0.5, stderr 0.
  const std::vector<float> q = {1.5f, 2.5f, 3.5f};
  auto c = ComparePerplexity(b, q);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->ratio, std::exp(0.5), 1e-12);
  EXPECT_NEAR(c->mean_log_ratio, 0.5, 1e-12);
  EXPECT_NEAR(c->mean_log_ratio_stderr, 0.0, 1e-12);
  EXPECT_NEAR(c->candidate.ppl / c->base.ppl, c->ratio, 1e-12);
  // Candidate (2, 2, 2): same PPL, diffs (1, 0, -1): sd (n-1) = 1, stderr 1/sqrt(3).
  const std::vector<float> r = {2, 2, 2};
  auto d = ComparePerplexity(b, r);
  ASSERT_TRUE(d.ok());
  EXPECT_NEAR(d->ratio, 1.0, 1e-12);
  EXPECT_NEAR(d->mean_log_ratio_stderr, 1.0 / std::sqrt(3.0), 1e-12);
}

TEST(Perplexity, BadInputs) {
  EXPECT_EQ(ComputePerplexity({}).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<float> a = {1, 2}, b = {1};
  EXPECT_EQ(ComparePerplexity(a, b).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
