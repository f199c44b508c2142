// CombineLogitStats against a brute-force answer computed from whole rows.
#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"

namespace qsweep {
namespace {

// Slices of random rows (with repeated values, so ties between slices and
// within them occur), each slice's statistics computed directly, then the
// combined top-k and log-sum-exp compared with the whole row's.
TEST(RowScores, MergedTopKEqualsTheWholeRowsTopK) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    const int slices = 1 + trial % 8, topk = 1 + (trial * 7) % 32, rows = 6;
    const int64_t width = 3 + rng() % 50;  // some slices narrower than k: padded lists
    const int64_t vocab = slices * width;
    std::vector<float> logits(rows * vocab);
    for (float& x : logits) x = static_cast<float>(static_cast<int>(rng() % 40)) / 4.0f;  // many ties
    std::vector<LogitStats> stats(slices);
    for (int c = 0; c < slices; ++c) {
      LogitStats& s = stats[c];
      s.vocab_begin = c * width;
      for (int r = 0; r < rows; ++r) {
        const float* x = &logits[r * vocab + c * width];
        const float mx = *std::max_element(x, x + width);
        double se = 0;
        for (int64_t j = 0; j < width; ++j) se += std::exp(double{x[j]} - mx);
        s.max.push_back(mx);
        s.sum_exp.push_back(static_cast<float>(se));
        s.target_logit.push_back(c == 0 ? x[0] : NAN);
        std::vector<int32_t> order(width);
        for (int64_t j = 0; j < width; ++j) order[j] = static_cast<int32_t>(j);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
        for (int i = 0; i < topk; ++i) {
          s.topk_id.push_back(i < width ? static_cast<int32_t>(s.vocab_begin) + order[i] : -1);
          s.topk_logit.push_back(i < width ? x[order[i]] : -INFINITY);
        }
      }
    }
    if (trial % 5 == 4)  // one list out of order: the general path must give the same answer
      std::swap(stats[0].topk_logit[0], stats[0].topk_logit[topk - 1]),
          std::swap(stats[0].topk_id[0], stats[0].topk_id[topk - 1]);
    const RowScores got = CombineLogitStats(stats, topk, false);
    for (int r = 0; r < rows; ++r) {
      const float* x = &logits[r * vocab];
      const float mx = *std::max_element(x, x + vocab);
      double se = 0;
      for (int64_t j = 0; j < vocab; ++j) se += std::exp(double{x[j]} - mx);
      const float lse = mx + static_cast<float>(std::log(se));
      EXPECT_NEAR(got.logsumexp[r], lse, 1e-5f * std::fabs(lse) + 1e-5f);
      std::vector<int32_t> order(vocab);
      for (int64_t j = 0; j < vocab; ++j) order[j] = static_cast<int32_t>(j);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
      for (int i = 0; i < std::min<int64_t>(topk, vocab); ++i) {
        ASSERT_EQ(got.topk_id[r * topk + i], order[i]) << "trial " << trial << " row " << r << " rank " << i;
        // Each log-prob is rounded once, from an fp64 log-sum-exp.
        const double lse_exact = mx + std::log(se);
        EXPECT_NEAR(got.topk_logprob[r * topk + i], x[order[i]] - lse_exact, 1e-6 * (1 + std::fabs(lse_exact)));
      }
    }
  }
}

// A broken scheme can fill logits with NaN: the top-k order stays total
// (NaN after every number, NaNs by id), in a row's statistics and in the
// merge of slices.
TEST(RowScores, NaNComesLastInEveryTopK) {
  const float nan = NAN;
  const std::vector<float> row = {1.0f, nan, 3.0f, nan, 2.0f, 3.0f};
  float mx, se, target;
  std::vector<int32_t> id(6);
  std::vector<float> logit(6);
  RowLogitStatistics(row.data(), 6, 0, 6, 0, &mx, &se, &target, id.data(), logit.data());
  EXPECT_EQ(id, (std::vector<int32_t>{2, 5, 4, 0, 1, 3}));
  EXPECT_EQ(logit[0], 3.0f);
  EXPECT_TRUE(std::isnan(logit[4]) && std::isnan(logit[5]));
  // Two slices whose lists hold NaN after their numbers: [NaN, NaN, 3] and
  // [1, 2, NaN]. The merge must not take a NaN before the other slice's 2.
  const std::vector<float> merged = {nan, nan, 3.0f, 1.0f, 2.0f, nan};
  std::vector<LogitStats> slices(2);
  for (int c = 0; c < 2; ++c) {
    LogitStats& s = slices[c];
    s.vocab_begin = 3 * c;
    s.max = {3.0f};
    s.sum_exp = {1.0f};
    s.target_logit = {c == 0 ? 3.0f : nan};
    s.topk_id.resize(3);
    s.topk_logit.resize(3);
    float m, e, t;
    RowLogitStatistics(merged.data() + 3 * c, 3, -1, 3, 3 * c, &m, &e, &t, s.topk_id.data(), s.topk_logit.data());
  }
  EXPECT_EQ(slices[0].topk_id, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(slices[1].topk_id, (std::vector<int32_t>{4, 3, 5}));
  const RowScores got = CombineLogitStats(slices, 3, false);
  EXPECT_EQ(std::vector<int32_t>(got.topk_id.begin(), got.topk_id.end()), (std::vector<int32_t>{2, 4, 3}));
}

}  // namespace
}  // namespace qsweep
