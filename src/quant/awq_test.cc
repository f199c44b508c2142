// AWQ's pieces against plain evaluations: the scale formula written out, the
// chosen α against an exhaustive evaluation of the same objective, and the
// clipping search against a brute force that quantizes each clipped group
// with the RTN quantizer.
#include "quant/awq.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "quant/gemm.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"
#include "random_for_test.h"

namespace qsweep {
namespace {

// Inputs whose channels differ in scale (a few salient ones).
std::vector<float> Inputs(int64_t rows, int64_t in, uint32_t seed) {
  std::vector<float> x = Normal(rows * in, seed);
  std::mt19937 rng(seed + 1);
  std::vector<float> scale(in);
  for (auto& s : scale) s = std::exp(std::normal_distribution<float>(0, 1)(rng));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < in; ++j) x[r * in + j] *= scale[j];
  return x;
}

double OutputError(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& wq, int64_t rows,
                   int64_t out, int64_t in) {
  std::vector<float> y(rows * out), yq(rows * out);
  GemmNT(rows, out, in, x.data(), w.data(), y.data());
  GemmNT(rows, out, in, x.data(), wq.data(), yq.data());
  double e = 0;
  for (size_t i = 0; i < y.size(); ++i) e += std::pow(double(y[i]) - yq[i], 2);
  return e / y.size();
}

TEST(Awq, ScalesAreTheFormula) {
  const std::vector<float> m = {0.5f, 2.0f, 0.0f, 8.0f};
  for (double alpha : {0.0, 0.35, 0.95}) {
    const std::vector<float> s = AwqScales(m, alpha);
    std::vector<double> raw;
    for (float v : m) raw.push_back(std::max(std::pow(double(v), alpha), 1e-4));
    const double norm = std::sqrt(*std::max_element(raw.begin(), raw.end()) * *std::min_element(raw.begin(), raw.end()));
    for (size_t j = 0; j < m.size(); ++j) EXPECT_NEAR(s[j], raw[j] / norm, 1e-6 * raw[j] / norm) << alpha;
  }
  ActMeanAbs mean(2);
  const float x[] = {1, -2, -3, 4, 0.5f, 0};
  mean.Add(x, 1);
  mean.Add(x + 2, 2);
  EXPECT_EQ(mean.values(), (std::vector<float>{1.5f, 2.0f}));
}

TEST(Awq, ChosenAlphaIsTheExhaustiveMinimumOfTheObjective) {
  const int64_t rows = 128, out = 32, in = 128;
  const std::vector<float> x = Inputs(rows, in, 3), w = Normal(out * in, 4, 0.05f);
  for (const char* scheme : {"w4a16-g32", "w3a16-asym", "w4a16-g128-asym"}) {
    const WeightFormat f = ParseScheme(scheme)->format;
    ActMeanAbs mean(in);
    mean.Add(x.data(), rows);
    auto objective = [&](std::span<const float> s) {
      return OutputError(x, w, QuantizeScaledForSearch(f, w, out, in, s), rows, out, in);
    };
    const AwqScaleChoice choice = SearchAwqScales(mean.values(), 20, objective);
    ASSERT_EQ(choice.losses.size(), 20u);
    double best = INFINITY, best_alpha = -1;
    for (int i = 0; i < 20; ++i) {
      const double l = objective(AwqScales(mean.values(), i / 20.0));
      EXPECT_EQ(l, choice.losses[i]);
      if (l < best) best = l, best_alpha = i / 20.0;
    }
    EXPECT_EQ(choice.alpha, best_alpha) << scheme;
    EXPECT_EQ(choice.scales, AwqScales(mean.values(), best_alpha));
    // α = 0 is round to nearest (s = 1); salient channels make a larger α better here.
    std::vector<float> rtn(out * in);
    DequantizeWeights(QuantizeWeights(f, w, out, in), rtn);
    EXPECT_NEAR(choice.losses[0], OutputError(x, w, rtn, rows, out, in), 1e-12);
    EXPECT_GT(choice.alpha, 0) << scheme;
    EXPECT_LT(best, choice.losses[0]) << scheme;
  }
}

TEST(Awq, ClippingIsTheBruteForceBestPerGroup) {
  const int64_t rows = 64, out = 8, in = 96;
  const std::vector<float> x = Inputs(rows, in, 5);
  std::vector<float> w = Normal(out * in, 6, 0.05f);
  w[5] = 0.6f;  // an outlier weight worth clipping
  for (const char* scheme : {"w3a16-g32", "w4a16-asym", "w2a16-g16-asym"}) {
    const WeightFormat f = ParseScheme(scheme)->format;
    const int64_t g = f.group > 0 ? f.group : in, groups = in / g;
    std::vector<float> clipped = w;
    const std::vector<float> kept = AwqClip(f, clipped, out, in, x.data(), rows);
    ASSERT_EQ(static_cast<int64_t>(kept.size()), out * groups);
    WeightFormat one = f;
    one.group = 0;  // one group of g columns: the RTN quantizer on a [1, g] layer
    for (int64_t r = 0; r < out; ++r)
      for (int64_t gi = 0; gi < groups; ++gi) {
        const float* wg = w.data() + r * in + gi * g;
        float absmax = 0;
        for (int64_t k = 0; k < g; ++k) absmax = std::max(absmax, std::fabs(wg[k]));
        double best_err = INFINITY;
        float best = 0;
        for (int i = 0; i < 10; ++i) {
          const float m = absmax * static_cast<float>(1 - i / 20.0);
          std::vector<float> c(wg, wg + g), q(g);
          for (float& v : c) v = std::clamp(v, -m, m);
          DequantizeWeights(QuantizeWeights(one, c, 1, g), q);
          double err = 0;
          for (int64_t t = 0; t < rows; ++t) {
            double a = 0, b = 0;
            for (int64_t k = 0; k < g; ++k) {
              a += double(x[t * in + gi * g + k]) * wg[k];
              b += double(x[t * in + gi * g + k]) * q[k];
            }
            err += (a - b) * (a - b);
          }
          if (err < best_err) best_err = err, best = m;
        }
        EXPECT_EQ(kept[r * groups + gi], best) << scheme << " row " << r << " group " << gi;
        for (int64_t k = 0; k < g; ++k) EXPECT_EQ(clipped[r * in + gi * g + k], std::clamp(wg[k], -best, best));
      }
    std::vector<float> q_clipped(out * in), q_plain(out * in);
    DequantizeWeights(QuantizeWeights(f, clipped, out, in), q_clipped);
    DequantizeWeights(QuantizeWeights(f, w, out, in), q_plain);
    EXPECT_LE(OutputError(x, w, q_clipped, rows, out, in), OutputError(x, w, q_plain, rows, out, in)) << scheme;
  }
}

}  // namespace
}  // namespace qsweep
