// CombineLogitStats against a brute-force answer computed from whole rows.
#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

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
        EXPECT_EQ(got.topk_logprob[r * topk + i], x[order[i]] - got.logsumexp[r]);
      }
    }
  }
}

}  // namespace
}  // namespace qsweep
