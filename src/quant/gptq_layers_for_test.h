// Random layers for GPTQ's tests (quant/gptq_test.cc, and the device's
// twin in backend/cuda): weights, correlated calibration inputs, their
// Hessian, and the output error a quantization leaves.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/gptq.h"
#include "quant/scheme.h"

namespace qsweep {

// The weight format of a scheme name.
inline WeightFormat Format(const std::string& scheme) {
  auto s = ParseScheme(scheme);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->format : WeightFormat{};
}

// Inputs [n, in] with correlated channels of different scales; `dead`
// channels are always zero.
inline std::vector<float> Inputs(int64_t n, int64_t in, uint32_t seed, const std::vector<int64_t>& dead = {}) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> mix(in * in), scale(in), z(n * in), x(n * in, 0.0f);
  for (auto& m : mix) m = nd(rng) * (rng() % 4 == 0 ? 1.0f : 0.0f);
  for (auto& s : scale) s = std::exp(nd(rng));
  for (auto& v : z) v = nd(rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < in; ++i) {
      double s = z[r * in + i];
      for (int64_t k = 0; k < in; k += 7) s += 0.3 * mix[i * in + k] * z[r * in + k];
      x[r * in + i] = static_cast<float>(s * scale[i]);
    }
  for (int64_t d : dead)
    for (int64_t r = 0; r < n; ++r) x[r * in + d] = 0;
  return x;
}

inline std::vector<float> Weights(int64_t out, int64_t in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> w(out * in);
  for (auto& v : w) v = nd(rng);
  return w;
}

inline std::vector<float> HessianOf(const std::vector<float>& x, int64_t n, int64_t in) {
  HessianAccumulator acc(in);
  acc.Add(x.data(), n / 2);  // in two calls, as batches arrive
  acc.Add(x.data() + (n / 2) * in, n - n / 2);
  EXPECT_EQ(acc.tokens(), n);
  return acc.Hessian();
}

// ‖(W − Ŵ) Xᵀ‖² through the (undamped) Hessian: n/2 · Σ_r e_r H e_rᵀ.
inline double OutputError(const std::vector<float>& w, const std::vector<float>& deq, int64_t out, int64_t in,
                   const std::vector<float>& h) {
  double total = 0;
  std::vector<double> e(in);
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t j = 0; j < in; ++j) e[j] = double(w[r * in + j]) - deq[r * in + j];
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) total += e[i] * h[i * in + j] * e[j];
  }
  return total;
}

}  // namespace qsweep
