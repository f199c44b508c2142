// Where a checkpoint tensor becomes its scheme's format: the one place the
// pipeline quantizes. The decoder reads each tensor, hands it here with the
// resolved spec, and gives the result to its backend, which stores it in its
// own layout and picks its kernel by the format; no backend sees a scheme.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "quant/packed_linear.h"
#include "quant/scheme.h"

namespace qsweep {

// Tensor `name` [out, in] in the format FormatFor(spec, name), chosen by the
// spec's method (with `calib` for the calibrated ones; `report` gets what
// they chose).
absl::StatusOr<std::unique_ptr<PackedLinear>> QuantizeTensor(const SchemeSpec& spec, std::string_view name,
                                                             std::vector<float> w, int64_t out, int64_t in,
                                                             const LayerCalibration* calib = nullptr,
                                                             QuantizeReport* report = nullptr);

// Rounds values to the spec's unquantized format (embeddings: fp32 only for
// the exact fp32 reference, fp16 under fp16, bf16 otherwise).
void RoundToUnquantizedFormat(const SchemeSpec& spec, std::span<float> values);

// The precision of that format: kF32, kF16 or kBF16.
DType UnquantizedPrecision(const SchemeSpec& spec);

// Reads input columns [begin, end) of a tensor, [out, end - begin] row-major.
using ReadColumns = std::function<absl::StatusOr<std::vector<float>>(int64_t begin, int64_t end)>;

// Parts [first, first + count) of a row-parallel tensor [out, in] cut into
// `total` equal input-column ranges, with the codes and scales the whole
// tensor quantized at once would have, so that they do not depend on how the
// layer is split. Where the format has no scales (dense) or its groups
// divide a part's width, only these parts' columns are read and quantized;
// formats whose scales span a whole row (per channel) read and quantize the
// whole tensor once, then cut it. So does GPTQ (`calib`), whose errors
// move between every input column.
absl::StatusOr<std::vector<std::unique_ptr<PackedLinear>>> QuantizeRowParallelParts(
    const SchemeSpec& spec, std::string_view name, int64_t out, int64_t in, int64_t first, int64_t count,
    int64_t total, const ReadColumns& read_columns, const LayerCalibration* calib = nullptr,
    QuantizeReport* report = nullptr);

}  // namespace qsweep
