// SmoothQuant (Xiao et al. 2023; mit-han-lab/smoothquant, smooth.py
// smooth_ln_fcs): activation outliers moved into the weights before both
// are quantized. For the projections that read one normed input (q k v
// after input_layernorm, gate up after post_attention_layernorm), per input
// channel j
//   s_j = max|X_j|^α / max|W_j|^(1−α)    (both clamped to >= 1e-5, as the reference)
// with max|W_j| over every row of every such projection; then the norm's
// weight is divided by s and each projection's column j multiplied by s_j,
// which leaves the product unchanged before quantization. As the reference
// does for Llama, o_proj and down_proj (no norm before them) are not smoothed.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace qsweep {

// Per channel max |x| over the calibration rows.
class ActAbsMax {
 public:
  explicit ActAbsMax(int64_t in) : max_(in, 0.0f) {}
  void Add(const float* x, int64_t rows);  // rows x [in]
  const std::vector<float>& values() const { return max_; }

 private:
  std::vector<float> max_;
};

// s [in] from the inputs' max |x| and the projections' weights (each [out_k, in]).
std::vector<float> SmoothingScales(std::span<const float> act_absmax,
                                   const std::vector<std::span<const float>>& weights, double alpha);

// W[:, j] · s_j (w [out, in], in = s.size()).
void ScaleColumns(std::span<float> w, std::span<const float> s);

// g_j / s_j: the norm's weight after smoothing.
void DivideBySmoothing(std::span<float> norm_weight, std::span<const float> s);

}  // namespace qsweep
