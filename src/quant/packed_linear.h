// A linear layer y = x·Wᵀ with its weights in a scheme's format: the CPU
// reference of every format (the GPU kernels reproduce these numerics).
//   weight-only formats: dequantize once (cached), then an fp32 GEMM;
//   w8a8 / w4a8 / w4a4: activations quantized per token (symmetric, absmax),
//     int32 dot products of the integer codes, times both scales;
//   fp8: weights and activations as e4m3, fp32 dot products, times both scales.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/gptq.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"
#include "quant/weight_format.h"

namespace qsweep {

// Calibration statistics of a layer's inputs, for calibrated quantizers
// (GPTQ, AWQ, SmoothQuant); RTN ignores them.
struct LayerCalibration {
  std::vector<float> mean_abs_input;  // [in]
  std::vector<float> hessian;         // [in, in] (GPTQ): 2/n Σ x xᵀ (HessianAccumulator)
  int64_t tokens = 0;                 // n, the input rows the statistics cover
  GptqOptions gptq;                   // the scheme's GPTQ settings
  GptqSolver gptq_solver;             // where GPTQ runs (empty: GptqQuantize on the host)
  // SmoothQuant (quant/smoothquant.h): column j is quantized as W[:, j]·s_j;
  // whoever feeds the layer divides its input by s (the preceding norm).
  std::vector<float> smooth_scales;   // [in]
};

// What a calibrated quantizer chose, for the run file (zero for RTN).
struct QuantizeReport {
  double damp_used = 0;  // GPTQ: the relative damping of the Hessian that factorized
  int64_t dead_columns = 0;
  double factorize_seconds = 0, columns_seconds = 0;  // GPTQ's two stages (GptqResult)
};

class PackedLinear {
 public:
  virtual ~PackedLinear() = default;
  int64_t out_features() const { return out_; }
  int64_t in_features() const { return in_; }
  const WeightFormat& format() const { return format_; }
  virtual void Dequantize(std::span<float> w) const = 0;  // [out, in]
  virtual void Forward(const float* x, int64_t rows, float* y) const = 0;
  virtual int64_t packed_bytes() const = 0;
  // The same layer restricted to input columns [begin, end) (a row-parallel
  // part): weights keep the values (and per-channel scales) of the whole.
  // Weight-only formats stay packed where the cut falls on group boundaries
  // (or the scales are per channel); elsewhere the part is dense fp32.
  virtual std::unique_ptr<PackedLinear> SliceColumns(int64_t begin, int64_t end) const = 0;
  // Moves out the fp32 values [out, in] of a dense layer (already rounded
  // to its format), leaving the layer empty; nullopt for packed formats.
  virtual std::optional<std::vector<float>> ReleaseDenseValues() { return std::nullopt; }
  // The codes and scales of a weight-only packed layer; null otherwise.
  virtual const QuantizedWeights* quantized_weights() const { return nullptr; }
  // An activation-quantized layer's weights: codes [out, in] (signed
  // integers, or e4m3 bit patterns for fp8) and one scale per output
  // channel; codes empty for every other layer.
  struct ActQuantWeights {
    std::span<const int8_t> codes;
    std::span<const float> scales;
  };
  virtual ActQuantWeights act_quant_weights() const { return {}; }

 protected:
  PackedLinear(WeightFormat f, int64_t out, int64_t in) : format_(f), out_(out), in_(in) {}
  WeightFormat format_;
  int64_t out_, in_;
};

// `w` [out, in] in `format` by `method`; `name` is for errors. Dense
// formats round to their precision and keep `w`'s storage (every method).
// GPTQ needs `calib` with the Hessian of the layer's inputs (GptqQuantize);
// SmoothQuant its smoothing scales (then round to nearest); AWQ is refused
// here (the calibrator scales and clips, then rounds to nearest). `report`, where given, gets
// what the calibrated quantizer chose.
absl::StatusOr<std::unique_ptr<PackedLinear>> QuantizeLinear(const WeightFormat& format, std::vector<float> w,
                                                             int64_t out, int64_t in, Method method = Method::kRtn,
                                                             const LayerCalibration* calib = nullptr,
                                                             std::string_view name = "",
                                                             QuantizeReport* report = nullptr);

// A weight-only layer of weights already packed (`q.format` quantized,
// weight-only).
std::unique_ptr<PackedLinear> PackedLinearOf(QuantizedWeights q);

// Per-token symmetric activation quantization (exposed for tests): codes in
// [-qmax, qmax] and the row's scale absmax / qmax.
void QuantizeActivationRow(const float* x, int64_t n, int qmax, int8_t* codes, float* scale);

// The values an activation-quantized format multiplies for the row x[n]
// (its codes times the row's scale; x itself for weight-only formats), for
// references outside this file.
std::vector<float> QuantizedActivationValues(ActKind act, const float* x, int64_t n);

}  // namespace qsweep
