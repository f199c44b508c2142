// GPTQ against a plainly written reference: column by column, the inverse
// Hessian of the remaining columns updated explicitly after each one (OBQ's
// form, from a Gauss-Jordan inverse: no Cholesky, no blocks, no lazy batches),
// on random layers with random, correlated calibration inputs.
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "quant/bit_packing.h"
#include "quant/gptq_layers_for_test.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

// Gauss-Jordan inverse with partial pivoting.
std::vector<double> Inverse(std::vector<double> a, int64_t n) {
  std::vector<double> inv(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (int64_t k = 0; k < n; ++k) {
      std::swap(a[c * n + k], a[p * n + k]);
      std::swap(inv[c * n + k], inv[p * n + k]);
    }
    const double d = a[c * n + c];
    for (int64_t k = 0; k < n; ++k) {
      a[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      if (f == 0) continue;
      for (int64_t k = 0; k < n; ++k) {
        a[r * n + k] -= f * a[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

// The reference: codes [out, in] (natural order) and the grids.
struct Reference {
  std::vector<uint8_t> codes;
  std::vector<float> deq;  // [out, in]
};

Reference PlainGptq(const WeightFormat& f, std::vector<float> w, int64_t out, int64_t in, const std::vector<float>& hf,
                    bool act_order, bool static_groups) {
  const int64_t g = f.group > 0 ? f.group : in, groups = (in + g - 1) / g;
  std::vector<double> h(hf.begin(), hf.end());
  std::vector<IntGrid> grid(out * groups);
  if (f.group == 0)
    for (int64_t r = 0; r < out; ++r) grid[r * groups] = IntGroupGrid(f, w.data() + r * in, in);
  for (int64_t i = 0; i < in; ++i)
    if (h[i * in + i] == 0) {
      h[i * in + i] = 1;
      for (int64_t r = 0; r < out; ++r) w[r * in + i] = 0;
    }
  if (f.group > 0 && static_groups)
    for (int64_t r = 0; r < out; ++r)
      for (int64_t gi = 0; gi < groups; ++gi) grid[r * groups + gi] = IntGroupGrid(f, w.data() + r * in + gi * g, g);
  std::vector<int64_t> order(in);
  std::iota(order.begin(), order.end(), 0);
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return h[a * in + a] > h[b * in + b]; });
  double mean = 0;
  for (int64_t i = 0; i < in; ++i) mean += h[i * in + i];
  for (int64_t i = 0; i < in; ++i) h[i * in + i] += 0.01 * mean / in;
  // Hinv over natural indices; columns are eliminated in `order`.
  std::vector<double> hinv = Inverse(h, in);
  std::vector<double> wd(w.begin(), w.end());
  std::vector<bool> done(in, false), group_seen(groups, false);
  Reference ref{std::vector<uint8_t>(out * in), std::vector<float>(out * in)};
  for (int64_t step = 0; step < in; ++step) {
    const int64_t c = order[step], gi = c / g;
    const bool new_group = f.group > 0 && !static_groups && !group_seen[gi];
    group_seen[gi] = true;
    for (int64_t r = 0; r < out; ++r) {
      double* wr = wd.data() + r * in;
      IntGrid& gr = grid[r * groups + (f.group > 0 ? gi : 0)];
      if (new_group) gr = IntGroupGrid(f, wr + gi * g, std::min(g, in - gi * g));
      const uint8_t code = IntCode(f, gr, static_cast<float>(wr[c]));
      const double v = IntCodeValue(f, gr, code);
      ref.codes[r * in + c] = code;
      ref.deq[r * in + c] = static_cast<float>(v);
      const double e = (wr[c] - v) / hinv[c * in + c];
      for (int64_t j = 0; j < in; ++j)
        if (!done[j] && j != c) wr[j] -= e * hinv[c * in + j];
      wr[c] = v;
    }
    // Eliminate column c from the inverse of the remaining Hessian.
    const double d = hinv[c * in + c];
    std::vector<double> col(in);
    for (int64_t i = 0; i < in; ++i) col[i] = hinv[i * in + c];
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) hinv[i * in + j] -= col[i] * col[j] / d;
    done[c] = true;
  }
  return ref;
}

struct Case {
  const char* scheme;
  bool act_order, static_groups;
};

class GptqVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(GptqVsReference, SameCodesAndLowerOutputErrorThanRtn) {
  const Case c = GetParam();
  const WeightFormat f = Format(c.scheme);
  const int64_t out = 48, in = 256, n = 600;
  const std::vector<int64_t> dead = {3, 130};
  const std::vector<float> w = Weights(out, in, 11), x = Inputs(n, in, 12, dead), h = HessianOf(x, n, in);
  auto r = GptqQuantize(f, w, out, in, h, {.act_order = c.act_order, .static_groups = c.static_groups}, "test.weight");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dead_columns, 2);
  EXPECT_EQ(r->damp_used, 0.01);
  EXPECT_EQ(r->weights.groups, f.group > 0 ? in / f.group : 1);
  const Reference ref = PlainGptq(f, w, out, in, h, c.act_order, c.static_groups);
  const std::vector<uint8_t> codes = UnpackCodes(r->weights.codes, out, in, f.bits);
  int64_t same = 0;
  for (int64_t i = 0; i < out * in; ++i) same += codes[i] == ref.codes[i];
  EXPECT_GE(same, (out * in) * 999 / 1000) << same << " of " << out * in << " codes identical";

  std::vector<float> deq(out * in), rtn(out * in);
  DequantizeWeights(r->weights, deq);
  for (int64_t i = 0; i < out * in; ++i) EXPECT_NEAR(deq[i], ref.deq[i], 1e-3f * (1 + std::fabs(ref.deq[i]))) << i;
  for (int64_t d : dead)
    for (int64_t row = 0; row < out; ++row) EXPECT_EQ(deq[row * in + d], 0.0f);
  DequantizeWeights(QuantizeWeights(f, w, out, in), rtn);
  const double e_gptq = OutputError(w, deq, out, in, h), e_rtn = OutputError(w, rtn, out, in, h);
  EXPECT_LT(e_gptq, e_rtn) << c.scheme;
  // Repeatable bit for bit.
  auto again = GptqQuantize(f, w, out, in, h, {.act_order = c.act_order, .static_groups = c.static_groups}, "t");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->weights.codes, r->weights.codes);
  EXPECT_EQ(again->weights.scales, r->weights.scales);
  EXPECT_EQ(again->weights.zeros, r->weights.zeros);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GptqVsReference,
    ::testing::Values(Case{"w4a16-g128", false, false}, Case{"w4a16-g128", true, false},
                      Case{"w4a16-g128", true, true}, Case{"w3a16-g32-asym", false, false},
                      Case{"w3a16-g32-asym", true, false}, Case{"w3a16-g32-asym", true, true},
                      Case{"w2a16-g64", true, false}, Case{"w4a16", false, false}, Case{"w4a16", true, false},
                      Case{"w8a16-asym", true, false}, Case{"w5a16-g16", false, false},
                      Case{"w4a16-g256-asym", true, false}, Case{"w8a8", false, false}, Case{"w4a4", true, false}));

TEST(Gptq, GroupsLargerThanABlockAndRowsNotATileMultiple) {
  const WeightFormat f = Format("w4a16-g64");
  const int64_t out = 21, in = 192, n = 400;
  const std::vector<float> w = Weights(out, in, 3), x = Inputs(n, in, 4), h = HessianOf(x, n, in);
  for (int64_t block : {128, 32, 7}) {
    auto r = GptqQuantize(f, w, out, in, h, {.block_size = block, .act_order = true}, "t");
    ASSERT_TRUE(r.ok()) << r.status();
    const Reference ref = PlainGptq(f, w, out, in, h, true, false);
    const std::vector<uint8_t> codes = UnpackCodes(r->weights.codes, out, in, f.bits);
    int64_t same = 0;
    for (int64_t i = 0; i < out * in; ++i) same += codes[i] == ref.codes[i];
    EXPECT_GE(same, out * in * 999 / 1000) << "block " << block;
  }
}

TEST(Gptq, IdentityHessianIsRoundToNearest) {
  // With H = I (uncorrelated inputs of equal power) there is nothing to
  // compensate: the codes are RTN's.
  for (const char* s : {"w4a16-g32", "w3a16-asym", "w8a16-g128"}) {
    const WeightFormat f = Format(s);
    const int64_t out = 16, in = 128;
    std::vector<float> h(in * in, 0.0f);
    for (int64_t i = 0; i < in; ++i) h[i * in + i] = 1;
    const std::vector<float> w = Weights(out, in, 5);
    auto r = GptqQuantize(f, w, out, in, h, {.static_groups = true}, "t");
    ASSERT_TRUE(r.ok());
    const QuantizedWeights rtn = QuantizeWeights(f, w, out, in);
    EXPECT_EQ(r->weights.codes, rtn.codes) << s;
    EXPECT_EQ(r->weights.scales, rtn.scales) << s;
    EXPECT_EQ(r->weights.zeros, rtn.zeros) << s;
  }
}

TEST(Gptq, HessianThatStaysSingularNamesTheTensor) {
  const WeightFormat f = Format("w4a16-g16");
  const int64_t out = 4, in = 16;
  const std::vector<float> w = Weights(out, in, 1);
  // Indefinite: eigenvalues 1 ± 1000 on the first two columns; no damping up
  // to 10 x the mean diagonal makes it positive definite.
  std::vector<float> h(in * in, 0.0f);
  for (int64_t i = 0; i < in; ++i) h[i * in + i] = 1;
  h[1] = h[in] = 1000;
  auto r = GptqQuantize(f, w, out, in, h, {}, "model.layers.3.mlp.down_proj.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("model.layers.3.mlp.down_proj.weight: the Hessian [16, 16] is not positive "
                                      "definite"),
            std::string::npos)
      << r.status();
  h[1] = h[in] = 0;
  h[5 * in + 5] = NAN;
  r = GptqQuantize(f, w, out, in, h, {}, "x.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("x.weight: the Hessian"), std::string::npos) << r.status();
}

TEST(Gptq, DampingIsIncreasedUntilTheFactorizationSucceeds) {
  // Eigenvalues 1 ± 1.5 (indefinite): mean diagonal 1, so damping 0.01 and 0.1
  // fail, 1 succeeds (smallest eigenvalue 0.5).
  const WeightFormat f = Format("w4a16");
  const int64_t out = 3, in = 2;
  const std::vector<float> h = {1, 1.5f, 1.5f, 1}, w = {0.1f, -0.2f, 0.3f, 0.05f, -0.4f, 0.2f};
  auto r = GptqQuantize(f, w, out, in, h, {}, "t");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->damp_used, 1.0);
  r = GptqQuantize(f, w, out, in, h, {.damp_retries = 1}, "t");
  EXPECT_FALSE(r.ok());
}

TEST(Gptq, BadInputsAreRefused) {
  const std::vector<float> w(4 * 16, 0.1f), h(16 * 16, 0.0f);
  auto r = GptqQuantize(Format("nf4-g16"), w, 4, 16, h, {}, "a.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a.weight: GPTQ quantizes integer formats"), std::string::npos) << r.status();
  r = GptqQuantize(Format("w4a16-g16"), w, 4, 16, std::vector<float>(15 * 15), {}, "b.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("b.weight: the Hessian has 225 values"), std::string::npos) << r.status();
  // An all-zero Hessian (every column dead) is not an error: zero weights.
  auto z = GptqQuantize(Format("w4a16-g16"), w, 4, 16, h, {}, "c.weight");
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(z->dead_columns, 16);
  std::vector<float> deq(4 * 16);
  DequantizeWeights(z->weights, deq);
  for (float v : deq) EXPECT_EQ(v, 0.0f);
}

TEST(HessianAccumulator, IsTwiceTheMeanOuterProduct) {
  const int64_t n = 37, in = 9;
  const std::vector<float> x = Inputs(n, in, 8);
  const std::vector<float> h = HessianOf(x, n, in);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < in; ++j) {
      double s = 0;
      for (int64_t r = 0; r < n; ++r) s += double(x[r * in + i]) * x[r * in + j];
      EXPECT_NEAR(h[i * in + j], 2 * s / n, 1e-5 * (1 + std::fabs(2 * s / n)));
    }
}

TEST(Cholesky, ReproducesTheMatrix) {
  const int64_t n = 40;
  const std::vector<float> x = Inputs(100, n, 9);
  const std::vector<float> hf = HessianOf(x, 100, n);
  std::vector<double> a(hf.begin(), hf.end()), l = a;
  ASSERT_TRUE(CholeskyLower(l, n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) s += l[i * n + k] * l[j * n + k];
      EXPECT_NEAR(s, a[i * n + j], 1e-9 * (1 + std::fabs(a[i * n + j])));
      if (j > i) {
        EXPECT_EQ(l[i * n + j], 0.0);
      }
    }
}

}  // namespace
}  // namespace qsweep
