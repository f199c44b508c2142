// AWQ (Lin et al. 2024; mit-han-lab/llm-awq, auto_scale.py and auto_clip.py):
// activation-aware scaling, then clipping, then round to nearest.
//
// Scale search (auto_scale): for the projections fed by one input x, per
// input channel s = mean|x|^α (clamped >= 1e-4), normalized by
// sqrt(max s · min s), for α = i / n_grid, i = 0 .. n_grid − 1; each
// candidate quantizes W·s and runs it on x/s, and the α whose block output
// is closest (mean squared error) to the unquantized block's wins (the first
// on a tie). The chosen s is folded into the op before (the norm's weight
// divided by s), the columns of W multiplied.
// Clipping search (auto_clip): per output row and group, the largest |w|
// kept is max|w| · (1 − i / n_grid), i = 0 .. n_grid · max_shrink − 1,
// whichever makes the group's output on sampled inputs closest to the
// unclipped weights' (first on a tie); not for q and k, as the reference.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "quant/weight_format.h"

namespace qsweep {

// Per channel mean |x| over the calibration rows.
class ActMeanAbs {
 public:
  explicit ActMeanAbs(int64_t in) : sum_(in, 0.0) {}
  void Add(const float* x, int64_t rows);
  std::vector<float> values() const;

 private:
  std::vector<double> sum_;
  int64_t rows_ = 0;
};

// The candidate scales for one α.
std::vector<float> AwqScales(std::span<const float> mean_abs_x, double alpha);

struct AwqScaleChoice {
  double alpha = 0;
  std::vector<float> scales;
  std::vector<double> losses;  // per grid point
};
// Evaluates `loss(scales)` on the grid and keeps the smallest.
AwqScaleChoice SearchAwqScales(std::span<const float> mean_abs_x, int n_grid,
                               const std::function<double(std::span<const float>)>& loss);

// W [out, in] clipped in place for format f (int, grouped or per channel)
// by the search above on `x` [rows, in]; returns the kept max |w| per (row, group).
std::vector<float> AwqClip(const WeightFormat& f, std::span<float> w, int64_t out, int64_t in, const float* x,
                           int64_t rows, int n_grid = 20, double max_shrink = 0.5);

// Dequantized RTN of W·s divided by s: what a candidate's layer computes on x.
std::vector<float> QuantizeScaledForSearch(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                           std::span<const float> s);

}  // namespace qsweep
