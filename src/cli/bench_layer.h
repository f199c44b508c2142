// One decoder layer's seven products timed as the decoder runs them: q, k
// and v from one input, o, gate and up from one input, down. The per-shape
// rows of `bench gemm` time each product alone; this row adds what a
// backend shares between the products of one input (an activation-quantized
// input need be quantized only once).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "quant/scheme.h"

namespace qsweep::cli {

struct LayerDims {
  int64_t hidden, kv, ffn;
};

// The median time in µs of the layer's products at each row count of
// `rows`, weights in `format` (RTN), over `iters` samples each. Before it
// times, it checks that each product of a shared input equals the same
// product run alone, bit for bit.
absl::StatusOr<std::vector<double>> DecoderOrderLayerMicros(Backend& b, const LayerDims& d, const WeightFormat& format,
                                                            std::span<const int64_t> rows, int iters);

// n normal values rounded to bf16, the same for a seed on any machine (blocks
// of 2^20 values drawn in parallel, each from its own seed).
std::vector<float> RandomBf16(int64_t n, uint32_t seed);

}  // namespace qsweep::cli
