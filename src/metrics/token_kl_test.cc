#include "metrics/token_kl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

// Appends one token's top-K (ids and log-probs, sorted descending) of `logprob` to `s`.
void AppendTopK(const std::vector<float>& logprob, int k, OwnedTokenScores& s) {
  std::vector<int32_t> order(logprob.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logprob[a] > logprob[b]; });
  for (int j = 0; j < k; ++j) {
    s.topk_id.push_back(order[j]);
    s.topk_logprob.push_back(logprob[order[j]]);
  }
  s.k = k;
  s.nll.push_back(-logprob[0]);  // pretend token 0 came next
}

std::vector<float> LogProbs(std::vector<double> p) {
  std::vector<float> out;
  for (double v : p) out.push_back(static_cast<float>(std::log(v)));
  return out;
}

TEST(TokenKl, ExactKnownAnswer) {
  // KL([.5, .5] || [.9, .1]) = .5 ln(.5/.9) + .5 ln(.5/.1) = 0.5108256.
  // Rows need not be normalized: the second token uses logits (base +7, cand -2).
  std::vector<float> b = LogProbs({.5, .5}), q = LogProbs({.9, .1});
  for (float v : LogProbs({.5, .5})) b.push_back(v + 7);
  for (float v : LogProbs({.9, .1})) q.push_back(v - 2);
  auto kl = ExactTokenKl(b, q, 2);
  ASSERT_TRUE(kl.ok());
  ASSERT_EQ(kl->size(), 2u);
  EXPECT_NEAR((*kl)[0], 0.5108256, 1e-6);
  EXPECT_NEAR((*kl)[1], 0.5108256, 1e-6);
}

TEST(TokenKl, TopKKnownAnswer) {
  // V = 3, base p = (.5, .3, .2), cand q = (.2, .5, .3), K = 2 for both.
  // Base top-2 ids {0, 1}; cand top-2 ids {1, 2}: q known only for id 1, so the
  // buckets are {1} and rest = {0, 2}: P = (.3, .7), Q = (.5, .5):
  //   bound = .3 ln(.3/.5) + .7 ln(.7/.5) = -0.153248 + 0.235531 = 0.082283;
  //   exact = .5 ln(.5/.2) + .3 ln(.3/.5) + .2 ln(.2/.3) = 0.223804 (>= bound).
  OwnedTokenScores b, q;
  AppendTopK(LogProbs({.5, .3, .2}), 2, b);
  AppendTopK(LogProbs({.2, .5, .3}), 2, q);
  auto bound = TopKTokenKl(b.View(), q.View());
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_NEAR((*bound)[0], 0.3 * std::log(0.3 / 0.5) + 0.7 * std::log(0.7 / 0.5), 1e-6);
  EXPECT_NEAR((*bound)[0], 0.082283, 1e-6);
  // With K = 3 = V the bound is the exact KL.
  OwnedTokenScores b3, q3;
  AppendTopK(LogProbs({.5, .3, .2}), 3, b3);
  AppendTopK(LogProbs({.2, .5, .3}), 3, q3);
  auto full = TopKTokenKl(b3.View(), q3.View());
  ASSERT_TRUE(full.ok());
  EXPECT_NEAR((*full)[0], 0.223804, 1e-6);
  // The simple case of the brief: all of the base's top-K known -> base top-K + tail.
  // base top-1 {0: .5}, cand top-2 {1: .5, 2: .3}... id 0 unknown -> everything in rest: 0.
  OwnedTokenScores b1;
  AppendTopK(LogProbs({.5, .3, .2}), 1, b1);
  auto none = TopKTokenKl(b1.View(), q.View());
  ASSERT_TRUE(none.ok());
  EXPECT_NEAR((*none)[0], 0.0, 1e-7);
}

// Random distributions: top-K KL never exceeds the exact KL, and equals it at K = V.
TEST(TokenKl, TopKIsALowerBoundOnRandomDistributions) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    const int v = 2 + static_cast<int>(rng() % 60);
    const int t_count = 5;
    const double scale = 0.5 + 4.0 * static_cast<double>(rng() % 100) / 100.0;
    const double noise = static_cast<double>(rng() % 100) / 50.0;  // 0 .. 2
    std::vector<float> rows_b, rows_q;
    std::vector<std::vector<float>> lb(t_count), lq(t_count);
    for (int t = 0; t < t_count; ++t) {
      std::vector<double> xb(v), xq(v);
      for (int i = 0; i < v; ++i) {
        xb[i] = scale * normal(rng);
        xq[i] = xb[i] + noise * normal(rng);
      }
      for (auto* pair : {&xb, &xq}) {  // normalize to log-probs in double, then store as float
        double m = *std::max_element(pair->begin(), pair->end()), s = 0;
        for (double x : *pair) s += std::exp(x - m);
        for (double& x : *pair) x -= m + std::log(s);
      }
      for (int i = 0; i < v; ++i) {
        lb[t].push_back(static_cast<float>(xb[i]));
        lq[t].push_back(static_cast<float>(xq[i]));
      }
      rows_b.insert(rows_b.end(), lb[t].begin(), lb[t].end());
      rows_q.insert(rows_q.end(), lq[t].begin(), lq[t].end());
    }
    auto exact = ExactTokenKl(rows_b, rows_q, v);
    ASSERT_TRUE(exact.ok());
    for (int k : {1, std::max(1, v / 4), std::max(1, v / 2), v - 1, v}) {
      if (k < 1) continue;
      const int kq = std::min(v, k + static_cast<int>(rng() % 3));  // K may differ per run
      OwnedTokenScores b, q;
      for (int t = 0; t < t_count; ++t) {
        AppendTopK(lb[t], k, b);
        AppendTopK(lq[t], kq, q);
      }
      auto bound = TopKTokenKl(b.View(), q.View());
      ASSERT_TRUE(bound.ok()) << bound.status();
      for (int t = 0; t < t_count; ++t) {
        EXPECT_LE((*bound)[t], (*exact)[t] + 1e-6) << ((*bound)[t] - (*exact)[t]) << " seed " << seed << " V " << v << " K " << k;
        if (k == v) {
          EXPECT_NEAR((*bound)[t], (*exact)[t], 1e-5) << "seed " << seed << " V " << v;
        }
      }
    }
  }
}

TEST(TokenKl, Summary) {
  // 1001 values 0, 1, ..., 1000: percentile q is 10 q exactly.
  std::vector<double> v(1001);
  std::iota(v.begin(), v.end(), 0.0);
  std::reverse(v.begin(), v.end());
  const TokenKlSummary s = SummarizeTokenKl(v, /*is_bound=*/true);
  EXPECT_EQ(s.n_tokens, 1001);
  EXPECT_DOUBLE_EQ(s.mean, 500.0);
  EXPECT_DOUBLE_EQ(s.median, 500.0);
  EXPECT_DOUBLE_EQ(s.p90, 900.0);
  EXPECT_DOUBLE_EQ(s.p99, 990.0);
  EXPECT_NEAR(s.p999, 999.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.max, 1000.0);
  EXPECT_TRUE(s.is_bound);
}

TEST(TokenKl, BadInputs) {
  const std::vector<float> a = {0, 0, 0, 0}, b = {0, 0, 0};
  EXPECT_THAT(ExactTokenKl(a, b, 2).status().message(), HasSubstr("both must be T x 2"));
  EXPECT_THAT(ExactTokenKl(b, b, 2).status().message(), HasSubstr("both must be T x 2"));
  EXPECT_EQ(ExactTokenKl(a, a, 0).status().code(), absl::StatusCode::kInvalidArgument);
  OwnedTokenScores x, y;
  AppendTopK(LogProbs({.5, .5}), 2, x);
  AppendTopK(LogProbs({.5, .5}), 2, y);
  AppendTopK(LogProbs({.5, .5}), 2, y);
  EXPECT_THAT(TopKTokenKl(x.View(), y.View()).status().message(), HasSubstr("has 2 tokens but baseline"));
}

}  // namespace
}  // namespace qsweep::metrics
