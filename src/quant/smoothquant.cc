#include "quant/smoothquant.h"

#include <algorithm>
#include <cmath>

#include "core/status_macros.h"

namespace qsweep {

void ActAbsMax::Add(const float* x, int64_t rows) {
  const int64_t in = static_cast<int64_t>(max_.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < in; ++j) max_[j] = std::max(max_[j], std::fabs(x[r * in + j]));
}

std::vector<float> SmoothingScales(std::span<const float> act_absmax,
                                   const std::vector<std::span<const float>>& weights, double alpha) {
  const int64_t in = static_cast<int64_t>(act_absmax.size());
  std::vector<float> wmax(in, 0.0f), s(in);
  for (std::span<const float> w : weights) {
    QSWEEP_CHECK(static_cast<int64_t>(w.size()) % in == 0);
    for (size_t i = 0; i < w.size(); ++i) wmax[i % in] = std::max(wmax[i % in], std::fabs(w[i]));
  }
  for (int64_t j = 0; j < in; ++j) {
    const double wm = std::max(static_cast<double>(wmax[j]), 1e-5);
    const double v = std::pow(static_cast<double>(act_absmax[j]), alpha) / std::pow(wm, 1 - alpha);
    s[j] = static_cast<float>(std::max(v, 1e-5));
  }
  return s;
}

void ScaleColumns(std::span<float> w, std::span<const float> s) {
  const size_t in = s.size();
  QSWEEP_CHECK(in > 0 && w.size() % in == 0);
  for (size_t i = 0; i < w.size(); ++i) w[i] *= s[i % in];
}

void DivideBySmoothing(std::span<float> g, std::span<const float> s) {
  QSWEEP_CHECK(g.size() == s.size());
  for (size_t j = 0; j < g.size(); ++j) g[j] /= s[j];
}

}  // namespace qsweep
