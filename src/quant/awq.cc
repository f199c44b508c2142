#include "quant/awq.h"

#include <algorithm>
#include <cmath>

#include "core/status_macros.h"
#include "quant/quantized_weights.h"

namespace qsweep {

void ActMeanAbs::Add(const float* x, int64_t rows) {
  const int64_t in = static_cast<int64_t>(sum_.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < in; ++j) sum_[j] += std::fabs(x[r * in + j]);
  rows_ += rows;
}

std::vector<float> ActMeanAbs::values() const {
  std::vector<float> v(sum_.size());
  for (size_t j = 0; j < v.size(); ++j) v[j] = rows_ ? static_cast<float>(sum_[j] / rows_) : 0.0f;
  return v;
}

std::vector<float> AwqScales(std::span<const float> mean_abs_x, double alpha) {
  std::vector<double> s(mean_abs_x.size());
  double lo = INFINITY, hi = 0;
  for (size_t j = 0; j < s.size(); ++j) {
    s[j] = std::max(std::pow(static_cast<double>(mean_abs_x[j]), alpha), 1e-4);
    lo = std::min(lo, s[j]);
    hi = std::max(hi, s[j]);
  }
  const double norm = std::sqrt(hi * lo);
  std::vector<float> out(s.size());
  for (size_t j = 0; j < s.size(); ++j) out[j] = static_cast<float>(s[j] / norm);
  return out;
}

AwqScaleChoice SearchAwqScales(std::span<const float> mean_abs_x, int n_grid,
                               const std::function<double(std::span<const float>)>& loss) {
  AwqScaleChoice best;
  double best_loss = INFINITY;
  for (int i = 0; i < n_grid; ++i) {
    const double alpha = static_cast<double>(i) / n_grid;
    std::vector<float> s = AwqScales(mean_abs_x, alpha);
    const double l = loss(s);
    best.losses.push_back(l);
    if (l < best_loss) {
      best_loss = l;
      best.alpha = alpha;
      best.scales = std::move(s);
    }
  }
  return best;
}

std::vector<float> QuantizeScaledForSearch(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                           std::span<const float> s) {
  std::vector<float> ws(w.begin(), w.end());
  for (int64_t i = 0; i < out * in; ++i) ws[i] *= s[i % in];
  std::vector<float> deq(out * in);
  DequantizeWeights(QuantizeWeights(f, ws, out, in), deq);
  for (int64_t i = 0; i < out * in; ++i) deq[i] /= s[i % in];
  return deq;
}

std::vector<float> AwqClip(const WeightFormat& f, std::span<float> w, int64_t out, int64_t in, const float* x,
                           int64_t rows, int n_grid, double max_shrink) {
  QSWEEP_CHECK(f.kind == WeightKind::kInt);
  const int64_t g0 = f.group > 0 ? std::min<int64_t>(f.group, in) : in, groups = (in + g0 - 1) / g0;
  const int steps = static_cast<int>(max_shrink * n_grid);
  std::vector<float> kept(out * groups);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t r = 0; r < out; ++r) {
    std::vector<float> cur(g0);
    std::vector<double> org(rows);
    for (int64_t gi = 0; gi < groups; ++gi) {
      float* wg = w.data() + r * in + gi * g0;
      const int64_t n = std::min(g0, in - gi * g0);
      float absmax = 0;
      for (int64_t k = 0; k < n; ++k) absmax = std::max(absmax, std::fabs(wg[k]));
      for (int64_t t = 0; t < rows; ++t) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += double(x[t * in + gi * g0 + k]) * wg[k];
        org[t] = s;
      }
      double best_err = INFINITY;
      float best = absmax;
      for (int i = 0; i < steps; ++i) {
        const float max_val = absmax * static_cast<float>(1 - static_cast<double>(i) / n_grid);
        for (int64_t k = 0; k < n; ++k) cur[k] = std::clamp(wg[k], -max_val, max_val);
        const IntGrid grid = IntGroupGrid(f, cur.data(), n);
        for (int64_t k = 0; k < n; ++k) cur[k] = IntCodeValue(f, grid, IntCode(f, grid, cur[k]));
        double err = 0;
        for (int64_t t = 0; t < rows; ++t) {
          double s = 0;
          for (int64_t k = 0; k < n; ++k) s += double(x[t * in + gi * g0 + k]) * cur[k];
          err += (s - org[t]) * (s - org[t]);
        }
        if (err < best_err) {
          best_err = err;
          best = max_val;
        }
      }
      for (int64_t k = 0; k < n; ++k) wg[k] = std::clamp(wg[k], -best, best);
      kept[r * groups + gi] = best;
    }
  }
  return kept;
}

}  // namespace qsweep
