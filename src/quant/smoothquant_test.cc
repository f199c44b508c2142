// SmoothQuant's scales against the formula written out, its folding
// against the unsmoothed product (RMSNorm then the projections), and the
// quantizer's use of the scales.
#include "quant/smoothquant.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "quant/gemm.h"
#include "quant/packed_linear.h"
#include "quant/scheme.h"
#include "random_for_test.h"

namespace qsweep {
namespace {

// x with a few outlier channels (as LLM activations have).
std::vector<float> Activations(int64_t rows, int64_t in, uint32_t seed) {
  std::vector<float> x = Normal(rows * in, seed);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j : {3, 17})
      if (j < in) x[r * in + j] *= 40;
  return x;
}

// RMSNorm(x)·g, row by row, in double.
std::vector<float> Normed(const std::vector<float>& x, const std::vector<float>& g, int64_t rows) {
  const int64_t in = static_cast<int64_t>(g.size());
  std::vector<float> h(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < in; ++j) ss += double(x[r * in + j]) * x[r * in + j];
    const double inv = 1 / std::sqrt(ss / in + 1e-5);
    for (int64_t j = 0; j < in; ++j) h[r * in + j] = static_cast<float>(x[r * in + j] * inv * g[j]);
  }
  return h;
}

TEST(SmoothQuant, ScalesAreTheFormula) {
  const int64_t in = 8;
  const std::vector<float> q = Normal(3 * in, 1), k = Normal(2 * in, 2), x = Activations(5, in, 3);
  ActAbsMax amax(in);
  amax.Add(x.data(), 2);
  amax.Add(x.data() + 2 * in, 3);
  for (double alpha : {0.0, 0.5, 0.85, 1.0}) {
    const std::vector<float> s = SmoothingScales(amax.values(), {q, k}, alpha);
    for (int64_t j = 0; j < in; ++j) {
      double xm = 0, wm = 0;
      for (int64_t r = 0; r < 5; ++r) xm = std::max(xm, std::fabs(double(x[r * in + j])));
      for (int64_t r = 0; r < 3; ++r) wm = std::max(wm, std::fabs(double(q[r * in + j])));
      for (int64_t r = 0; r < 2; ++r) wm = std::max(wm, std::fabs(double(k[r * in + j])));
      EXPECT_EQ(amax.values()[j], static_cast<float>(xm));
      EXPECT_NEAR(s[j], std::pow(xm, alpha) / std::pow(wm, 1 - alpha), 1e-6 * s[j]) << alpha << " " << j;
      // After smoothing, α = 0.5 balances the two ranges channel by channel.
      if (alpha == 0.5) {
        EXPECT_NEAR(xm / s[j], wm * s[j], 1e-5 * xm / s[j]);
      }
    }
  }
  // A channel that is always zero keeps a positive scale (clamped).
  std::vector<float> zero(in, 0.0f);
  for (float v : SmoothingScales(zero, {q}, 0.5)) EXPECT_GE(v, 1e-5f);
}

TEST(SmoothQuant, FoldingLeavesTheOutputsUnchangedBeforeQuantization) {
  const int64_t rows = 16, in = 64, out = 24;
  const std::vector<float> x = Activations(rows, in, 4), w = Normal(out * in, 5, 0.05f);
  std::vector<float> g = Normal(in, 6);
  for (float& v : g) v = 1 + 0.1f * v;
  ActAbsMax amax(in);
  const std::vector<float> h = Normed(x, g, rows);
  amax.Add(h.data(), rows);
  const std::vector<float> s = SmoothingScales(amax.values(), {w}, 0.85);
  std::vector<float> gs = g, ws = w;
  DivideBySmoothing(gs, s);
  ScaleColumns(ws, s);
  std::vector<float> y(rows * out), ys(rows * out), yb(rows * out);
  GemmNT(rows, out, in, h.data(), w.data(), y.data());
  const std::vector<float> hs = Normed(x, gs, rows);
  GemmNT(rows, out, in, hs.data(), ws.data(), ys.data());
  // Held in bf16, as a bf16 model holds its norm and projection weights.
  std::vector<float> gb = gs, wb = ws;
  for (float& v : gb) v = RoundBF16(v);
  for (float& v : wb) v = RoundBF16(v);
  const std::vector<float> hb = Normed(x, gb, rows);
  GemmNT(rows, out, in, hb.data(), wb.data(), yb.data());
  double norm = 0;
  for (float v : y) norm = std::max(norm, std::fabs(double(v)));
  for (int64_t i = 0; i < rows * out; ++i) {
    EXPECT_NEAR(ys[i], y[i], 1e-5 * norm) << i;
    EXPECT_NEAR(yb[i], y[i], 2e-2 * norm) << i;  // two bf16 roundings of 2^-9 each, summed over 64 inputs
  }
  // The smoothed input's outlier channel shrinks.
  float before = 0, after = 0;
  for (int64_t r = 0; r < rows; ++r) {
    before = std::max(before, std::fabs(h[r * in + 3]));
    after = std::max(after, std::fabs(hs[r * in + 3]));
  }
  EXPECT_LT(after, before / 2);
}

TEST(SmoothQuant, TheQuantizerScalesColumnsThenRounds) {
  const int64_t out = 6, in = 32;
  const std::vector<float> w = Normal(out * in, 7);
  WeightFormat f = ParseScheme("w8a8")->format;
  LayerCalibration calib;
  calib.smooth_scales = Normal(in, 8);
  for (float& v : calib.smooth_scales) v = std::exp(v);
  auto sq = QuantizeLinear(f, w, out, in, Method::kSmoothQuant, &calib, "t");
  ASSERT_TRUE(sq.ok()) << sq.status();
  std::vector<float> scaled = w;
  ScaleColumns(scaled, calib.smooth_scales);
  auto rtn = QuantizeLinear(f, scaled, out, in);
  std::vector<float> a(out * in), b(out * in);
  (*sq)->Dequantize(a);
  (*rtn)->Dequantize(b);
  EXPECT_EQ(a, b);
  calib.smooth_scales.resize(31);
  auto bad = QuantizeLinear(f, w, out, in, Method::kSmoothQuant, &calib, "model.layers.0.mlp.up_proj.weight");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model.layers.0.mlp.up_proj.weight: SmoothQuant needs the layer's 32 smoothing "
                                        "scales, and a wrong number was given"),
            std::string::npos)
      << bad.status();
  EXPECT_FALSE(QuantizeLinear(f, w, out, in, Method::kSmoothQuant, nullptr, "t").ok());
}

}  // namespace
}  // namespace qsweep
