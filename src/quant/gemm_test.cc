#include "quant/gemm.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(GemmNT, MatchesReferenceOnRandomShapes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> dim(1, 300);
  std::normal_distribution<float> val(0.0f, 1.0f);
  for (int trial = 0; trial < 25; ++trial) {
    const int64_t m = dim(rng) % 37 + 1, n = dim(rng), k = dim(rng) + (trial % 3) * 200;
    std::vector<float> a(m * k), b(n * k), c(m * n), ref(m * n);
    for (auto& x : a) x = val(rng);
    for (auto& x : b) x = val(rng);
    GemmNT(m, n, k, a.data(), b.data(), c.data());
    GemmNTReference(m, n, k, a.data(), b.data(), ref.data());
    for (int64_t i = 0; i < m * n; ++i)
      ASSERT_NEAR(c[i], ref[i], 1e-4f * std::sqrt(float(k)) + 1e-4f * std::fabs(ref[i]))
          << "m=" << m << " n=" << n << " k=" << k << " at " << i;
  }
}

TEST(GemmNT, AccumulateAddsToOutput) {
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1, 1, 1}, c(2 * 3, 10.0f);
  // a: 2x2, b: 3x2 -> c = 10 + a·bᵀ = 10 + [[1,2,3],[3,4,7]]
  GemmNT(2, 3, 2, a.data(), b.data(), c.data(), /*accumulate=*/true);
  EXPECT_EQ(c, (std::vector<float>{11, 12, 13, 13, 14, 17}));
}

}  // namespace
}  // namespace qsweep
