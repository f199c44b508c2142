#include "backend/cpu/reference_ops.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep::ref {
namespace {

TEST(RmsNorm, KnownAnswer) {
  // x = [3, 4]: mean square 12.5, 1/sqrt(12.5) = 0.28284; w = [1, 2]
  const float x[2] = {3, 4}, w[2] = {1, 2};
  float out[2];
  RmsNorm(x, w, 1, 2, 0.0f, out);
  EXPECT_NEAR(out[0], 0.848528f, 1e-5);
  EXPECT_NEAR(out[1], 2.262742f, 1e-5);
}

TEST(Rotary, QuarterTurnAndIdentity) {
  // head_dim 4 → pairs (0,2), (1,3); inv_freq = [pi/2, 0]: position 1 turns
  // pair 0 by 90° (a, b) → (-b, a) and leaves pair 1; position 0 is identity.
  const float inv_freq[2] = {static_cast<float>(M_PI / 2), 0.0f};
  std::vector<float> x = {1, 2, 3, 4, 1, 2, 3, 4};
  const int32_t pos[2] = {0, 1};
  Rotary(x.data(), 2, 1, 4, inv_freq, pos);
  EXPECT_EQ(std::vector<float>(x.begin(), x.begin() + 4), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_NEAR(x[4], -3, 1e-6);
  EXPECT_NEAR(x[5], 2, 1e-6);
  EXPECT_NEAR(x[6], 1, 1e-6);
  EXPECT_NEAR(x[7], 4, 1e-6);
}

TEST(Attention, FirstRowCopiesValueAndZeroQueryAverages) {
  // One sequence of 3 rows, 2 query heads sharing 1 kv head (GQA), head_dim 2.
  // q = 0 gives uniform weights: row r averages v[0..r].
  std::vector<float> q(3 * 4, 0.0f), k = {1, 0, 0, 1, 1, 1}, v = {1, 2, 3, 4, 5, 6}, out(12);
  std::vector<int64_t> offsets = {0, 3};
  CausalAttention(q.data(), k.data(), v.data(), offsets, 2, 1, 2, out.data());
  const std::vector<float> want = {1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3, 4};
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(out[i], want[i], 1e-6) << i;
}

TEST(Attention, SequencesDoNotSeeEachOther) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int64_t rows = 7, hq = 4, hkv = 2, hd = 8;
  std::vector<float> q(rows * hq * hd), k(rows * hkv * hd), v(rows * hkv * hd);
  for (auto* t : {&q, &k, &v})
    for (auto& x : *t) x = nd(rng);
  std::vector<int64_t> packed = {0, 3, 7};
  std::vector<float> out(rows * hq * hd);
  CausalAttention(q.data(), k.data(), v.data(), packed, hq, hkv, hd, out.data());
  // The second sequence alone must give the same rows.
  std::vector<int64_t> alone = {0, 4};
  std::vector<float> out2(4 * hq * hd);
  CausalAttention(q.data() + 3 * hq * hd, k.data() + 3 * hkv * hd, v.data() + 3 * hkv * hd, alone,
                  hq, hkv, hd, out2.data());
  for (int64_t i = 0; i < 4 * hq * hd; ++i) EXPECT_FLOAT_EQ(out[3 * hq * hd + i], out2[i]);
}

TEST(SwiGlu, KnownAnswer) {
  const float g[3] = {0, 1, -2}, u[3] = {5, 2, 1};
  float out[3];
  SwiGlu(g, u, 3, out);
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2 * 0.7310586f, 1e-6);
  EXPECT_NEAR(out[2], -2 * 0.1192029f, 1e-6);
}

TEST(Attention, SharedPrefixBranchesEqualSeparateSequences) {
  // Context of 3 rows + branch A (2 rows) + branch B (1 row), packed once,
  // must equal the two sequences context+A and context+B run separately.
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  const int64_t hq = 2, hkv = 1, hd = 4;
  std::vector<float> q(6 * hq * hd), k(6 * hkv * hd), v(6 * hkv * hd);
  for (auto* t : {&q, &k, &v})
    for (auto& x : *t) x = nd(rng);
  const int64_t seq_begin[6] = {0, 0, 0, 0, 0, 0}, prefix_end[6] = {0, 0, 0, 3, 3, 3},
                branch_begin[6] = {0, 0, 0, 3, 3, 5};
  std::vector<float> out(6 * hq * hd);
  Attention(q.data(), k.data(), v.data(), 6, seq_begin, prefix_end, branch_begin, hq, hkv, hd,
            out.data());
  auto rows_of = [&](const std::vector<float>& t, std::vector<int> rows, int64_t width) {
    std::vector<float> o;
    for (int r : rows) o.insert(o.end(), t.begin() + r * width, t.begin() + (r + 1) * width);
    return o;
  };
  for (const std::vector<int>& seq : {std::vector<int>{0, 1, 2, 3, 4}, std::vector<int>{0, 1, 2, 5}}) {
    const int64_t n = static_cast<int64_t>(seq.size());
    auto qs = rows_of(q, seq, hq * hd), ks = rows_of(k, seq, hkv * hd), vs = rows_of(v, seq, hkv * hd);
    std::vector<float> o(n * hq * hd);
    std::vector<int64_t> offsets = {0, n};
    CausalAttention(qs.data(), ks.data(), vs.data(), offsets, hq, hkv, hd, o.data());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < hq * hd; ++d)
        EXPECT_NEAR(out[seq[i] * hq * hd + d], o[i * hq * hd + d], 1e-6) << "row " << seq[i];
  }
}

}  // namespace
}  // namespace qsweep::ref
