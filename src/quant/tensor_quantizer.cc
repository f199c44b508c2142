#include "quant/tensor_quantizer.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<PackedLinear>> QuantizeTensor(const SchemeSpec& spec, std::string_view name,
                                                             std::vector<float> w, int64_t out, int64_t in,
                                                             const LayerCalibration* calib,
                                                             QuantizeReport* report) {
  return QuantizeLinear(FormatFor(spec, name), std::move(w), out, in, spec.method, calib, name, report);
}

void RoundToUnquantizedFormat(const SchemeSpec& spec, std::span<float> values) {
  const WeightFormat f = UnquantizedFormat(spec);
  if (f.dense_bits == 32) return;
#pragma omp parallel for schedule(static) if (values.size() > (1 << 20))
  for (size_t i = 0; i < values.size(); ++i) values[i] = f.dense_fp16 ? RoundF16(values[i]) : RoundBF16(values[i]);
}

DType UnquantizedPrecision(const SchemeSpec& spec) {
  const WeightFormat f = UnquantizedFormat(spec);
  return f.dense_bits == 32 ? DType::kF32 : f.dense_fp16 ? DType::kF16 : DType::kBF16;
}

absl::StatusOr<std::vector<std::unique_ptr<PackedLinear>>> QuantizeRowParallelParts(
    const SchemeSpec& spec, std::string_view name, int64_t out, int64_t in, int64_t first, int64_t count,
    int64_t total, const ReadColumns& read_columns, const LayerCalibration* calib, QuantizeReport* report) {
  if (total < 1 || in % total || first < 0 || count < 1 || first + count > total)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: parts [%d, %d) of %d do not cut %d input columns evenly", name, first, first + count, total, in));
  const WeightFormat f = FormatFor(spec, name);
  const int64_t width = in / total;
  const bool mixes_columns = f.quantized() && spec.method == Method::kGptq;
  const bool local = !mixes_columns && (!f.quantized() || (f.group > 0 && width % f.group == 0));
  const int64_t begin = local ? first * width : 0, end = local ? (first + count) * width : in;
  QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, read_columns(begin, end));
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> read,
                          QuantizeTensor(spec, name, std::move(w), out, end - begin, calib, report));
  std::vector<std::unique_ptr<PackedLinear>> parts;
  for (int64_t p = first; p < first + count; ++p) {
    const int64_t b = p * width - begin;
    parts.push_back(count == 1 && local ? std::move(read) : read->SliceColumns(b, b + width));
  }
  return parts;
}

}  // namespace qsweep
