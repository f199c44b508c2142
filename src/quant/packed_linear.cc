#include "quant/packed_linear.h"

#include <array>
#include <cmath>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "quant/bit_packing.h"
#include "quant/fp8.h"
#include "quant/gemm.h"
#include "quant/smoothquant.h"

namespace qsweep {
namespace {

class DenseLinear : public PackedLinear {
 public:
  DenseLinear(WeightFormat f, std::vector<float> w, int64_t out, int64_t in)
      : PackedLinear(f, out, in), w_(std::move(w)) {}
  void Dequantize(std::span<float> w) const override { std::copy(w_.begin(), w_.end(), w.begin()); }
  void Forward(const float* x, int64_t rows, float* y) const override { GemmNT(rows, out_, in_, x, w_.data(), y); }
  int64_t packed_bytes() const override { return out_ * in_ * format_.dense_bits / 8; }
  std::unique_ptr<PackedLinear> SliceColumns(int64_t begin, int64_t end) const override {
    std::vector<float> s;
    s.reserve(out_ * (end - begin));
    for (int64_t r = 0; r < out_; ++r) s.insert(s.end(), w_.begin() + r * in_ + begin, w_.begin() + r * in_ + end);
    return std::make_unique<DenseLinear>(format_, std::move(s), out_, end - begin);
  }
  std::optional<std::vector<float>> ReleaseDenseValues() override { return std::move(w_); }

 private:
  std::vector<float> w_;
};

class WeightOnlyLinear : public PackedLinear {
 public:
  explicit WeightOnlyLinear(QuantizedWeights q) : PackedLinear(q.format, q.out, q.in), q_(std::move(q)) {}
  void Dequantize(std::span<float> w) const override { DequantizeWeights(q_, w); }
  void Forward(const float* x, int64_t rows, float* y) const override {
    std::call_once(once_, [&] {
      cache_.resize(out_ * in_);
      DequantizeWeights(q_, cache_);
    });
    GemmNT(rows, out_, in_, x, cache_.data(), y);
  }
  int64_t packed_bytes() const override { return q_.packed_bytes(); }
  const QuantizedWeights* quantized_weights() const override { return &q_; }
  std::unique_ptr<PackedLinear> SliceColumns(int64_t begin, int64_t end) const override {
    if (ColumnsCutOnGroups(q_, begin, end)) return std::make_unique<WeightOnlyLinear>(SliceQuantizedColumns(q_, begin, end));
    std::vector<float> all(out_ * in_), s;
    DequantizeWeights(q_, all);
    for (int64_t r = 0; r < out_; ++r) s.insert(s.end(), all.begin() + r * in_ + begin, all.begin() + r * in_ + end);
    return std::make_unique<DenseLinear>(WeightFormat::Dense(32), std::move(s), out_, end - begin);
  }

 private:
  QuantizedWeights q_;
  mutable std::once_flag once_;
  mutable std::vector<float> cache_;
};

// Every e4m3 code's value, by code.
const std::array<float, 256> kFp8Values = [] {
  std::array<float, 256> v{};
  for (int c = 0; c < 256; ++c) v[c] = Fp8E4M3ToFloat(static_cast<uint8_t>(c));
  return v;
}();

// Integer weights per channel (codes as int8) with integer activations, or
// fp8 weights with fp8 activations.
class ActQuantLinear : public PackedLinear {
 public:
  ActQuantLinear(WeightFormat f, std::vector<int8_t> wq, std::vector<float> wscale, int64_t out, int64_t in,
                 int64_t packed_bytes)
      : PackedLinear(f, out, in), wq_(std::move(wq)), ws_(std::move(wscale)), bytes_(packed_bytes) {}

  void Dequantize(std::span<float> w) const override {
    for (int64_t r = 0; r < out_; ++r)
      for (int64_t j = 0; j < in_; ++j) w[r * in_ + j] = Code(r, j) * ws_[r];
  }

  void Forward(const float* x, int64_t rows, float* y) const override {
    const bool fp8 = format_.act == ActKind::kFp8;
    const int qmax = format_.act == ActKind::kInt8 ? 127 : 7;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
      std::vector<int8_t> xq(in_);
      std::vector<float> xf(in_);
      float xs = 0;
      if (fp8) {
        float absmax = 0;
        for (int64_t j = 0; j < in_; ++j) absmax = std::max(absmax, std::fabs(x[i * in_ + j]));
        xs = absmax / kFp8E4M3Max;
        for (int64_t j = 0; j < in_; ++j)
          xf[j] = Fp8E4M3ToFloat(FloatToFp8E4M3(xs > 0 ? x[i * in_ + j] / xs : 0.0f));
      } else {
        QuantizeActivationRow(x + i * in_, in_, qmax, xq.data(), &xs);
      }
      for (int64_t r = 0; r < out_; ++r) {
        if (fp8) {
          float acc = 0;
          for (int64_t j = 0; j < in_; ++j) acc += xf[j] * kFp8Values[static_cast<uint8_t>(wq_[r * in_ + j])];
          y[i * out_ + r] = acc * xs * ws_[r];
        } else {
          int32_t acc = 0;
          for (int64_t j = 0; j < in_; ++j) acc += int32_t{xq[j]} * int32_t{wq_[r * in_ + j]};
          y[i * out_ + r] = static_cast<float>(acc) * xs * ws_[r];
        }
      }
    }
  }
  int64_t packed_bytes() const override { return bytes_; }
  ActQuantWeights act_quant_weights() const override { return {wq_, ws_}; }
  std::unique_ptr<PackedLinear> SliceColumns(int64_t begin, int64_t end) const override {
    std::vector<int8_t> s;
    for (int64_t r = 0; r < out_; ++r) s.insert(s.end(), wq_.begin() + r * in_ + begin, wq_.begin() + r * in_ + end);
    return std::make_unique<ActQuantLinear>(format_, std::move(s), ws_, out_, end - begin,
                                            bytes_ * (end - begin) / in_);
  }

 private:
  float Code(int64_t r, int64_t j) const {
    return format_.act == ActKind::kFp8 ? Fp8E4M3ToFloat(static_cast<uint8_t>(wq_[r * in_ + j]))
                                        : static_cast<float>(wq_[r * in_ + j]);
  }
  std::vector<int8_t> wq_;  // int codes, or fp8 codes stored bitwise
  std::vector<float> ws_;   // per output channel
  int64_t bytes_;
};

}  // namespace

void QuantizeActivationRow(const float* x, int64_t n, int qmax, int8_t* codes, float* scale) {
  float absmax = 0;
  for (int64_t j = 0; j < n; ++j) absmax = std::max(absmax, std::fabs(x[j]));
  const float s = absmax / qmax;
  *scale = s;
  for (int64_t j = 0; j < n; ++j)
    codes[j] = static_cast<int8_t>(s > 0 ? std::clamp(std::rint(x[j] / s), static_cast<float>(-qmax), static_cast<float>(qmax)) : 0.0f);
}

std::vector<float> QuantizedActivationValues(ActKind act, const float* x, int64_t n) {
  std::vector<float> v(x, x + n);
  if (act == ActKind::kNone) return v;
  if (act == ActKind::kFp8) {
    float absmax = 0;
    for (int64_t j = 0; j < n; ++j) absmax = std::max(absmax, std::fabs(x[j]));
    const float s = absmax / kFp8E4M3Max;
    for (int64_t j = 0; j < n; ++j) v[j] = s > 0 ? Fp8E4M3ToFloat(FloatToFp8E4M3(x[j] / s)) * s : 0.0f;
    return v;
  }
  std::vector<int8_t> codes(n);
  float s = 0;
  QuantizeActivationRow(x, n, act == ActKind::kInt8 ? 127 : 7, codes.data(), &s);
  for (int64_t j = 0; j < n; ++j) v[j] = codes[j] * s;
  return v;
}

std::unique_ptr<PackedLinear> PackedLinearOf(QuantizedWeights q) {
  QSWEEP_CHECK(q.format.quantized() && q.format.act == ActKind::kNone);
  return std::make_unique<WeightOnlyLinear>(std::move(q));
}

absl::StatusOr<std::unique_ptr<PackedLinear>> QuantizeLinear(const WeightFormat& f, std::vector<float> w,
                                                             int64_t out, int64_t in, Method method,
                                                             const LayerCalibration* calib, std::string_view name,
                                                             QuantizeReport* report) {
  if (static_cast<int64_t>(w.size()) != out * in)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d weights for a [%d, %d] layer", name, w.size(), out, in));
  // SmoothQuant's scaled columns, also where an override keeps the layer
  // dense (its input is smoothed all the same).
  if (method == Method::kSmoothQuant && ((calib && !calib->smooth_scales.empty()) || f.quantized())) {
    if (!calib || static_cast<int64_t>(calib->smooth_scales.size()) != in)
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: SmoothQuant needs the layer's %d smoothing scales, and %s given (a -sq scheme needs "
          "calibration data: the sweep config's calibration key)",
          name, in, calib && !calib->smooth_scales.empty() ? "a wrong number was" : "none were"));
    ScaleColumns(w, calib->smooth_scales);
  }
  if (!f.quantized()) {
    if (f.dense_bits == 16) {
#pragma omp parallel for schedule(static) if (w.size() > (1 << 20))
      for (size_t i = 0; i < w.size(); ++i) w[i] = f.dense_fp16 ? RoundF16(w[i]) : RoundBF16(w[i]);
    }
    return std::make_unique<DenseLinear>(f, std::move(w), out, in);
  }
  if (method == Method::kAwq)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: AWQ chooses scales and clipping on calibration data as the model loads (an -awq scheme needs the "
        "sweep config's calibration key), then rounds to nearest: it is not a quantizer of one tensor",
        name));
  QuantizedWeights q;
  if (method == Method::kGptq) {
    if (!calib || calib->hessian.empty())
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: GPTQ needs the Hessian of the layer's inputs, and none was given (a gptq scheme needs "
          "calibration data: the sweep config's calibration key)",
          name));
    QSWEEP_ASSIGN_OR_RETURN(GptqResult r, calib->gptq_solver
                                               ? calib->gptq_solver(f, w, out, in, calib->hessian, calib->gptq, name)
                                               : GptqQuantize(f, w, out, in, calib->hessian, calib->gptq, name));
    if (report)
      *report = {.damp_used = r.damp_used,
                 .dead_columns = r.dead_columns,
                 .factorize_seconds = r.factorize_seconds,
                 .columns_seconds = r.columns_seconds};
    q = std::move(r.weights);
  } else {
    q = QuantizeWeights(f, w, out, in);
  }
  if (f.act == ActKind::kNone) return std::make_unique<WeightOnlyLinear>(std::move(q));
  // Activation-quantized formats keep codes unpacked as int8 for the integer GEMM.
  const std::vector<uint8_t> codes = UnpackCodes(q.codes, out, in, f.bits);
  std::vector<int8_t> wq(out * in);
  std::vector<float> ws(out);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r) {
    ws[r] = q.Scale(r, 0);
    for (int64_t j = 0; j < in; ++j) {
      const int c = codes[r * in + j];
      wq[r * in + j] = f.act == ActKind::kFp8 ? static_cast<int8_t>(static_cast<uint8_t>(c))
                                              : static_cast<int8_t>(c - (1 << (f.bits - 1)));
    }
  }
  return std::make_unique<ActQuantLinear>(f, std::move(wq), std::move(ws), out, in, q.packed_bytes());
}

}  // namespace qsweep
