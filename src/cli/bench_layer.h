// One decoder layer's seven products timed as the decoder runs them: q, k
// and v from one input, o, gate and up from one input, down. The per-shape
// rows of `bench gemm` time each product alone; this row adds what a
// backend shares between the products of one input (an activation-quantized
// input need be quantized only once).
#pragma once
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "quant/scheme.h"

namespace qsweep::cli {

struct LayerDims {
  int64_t hidden, kv, ffn;
};

// The median time in µs of the layer's products at `rows` rows, weights in
// `format` (RTN), over `iters` samples. Before it times, it checks that each
// product of a shared input equals the same product run alone, bit for bit.
absl::StatusOr<double> DecoderOrderLayerMicros(Backend& b, const LayerDims& d, const WeightFormat& format,
                                               int64_t rows, int iters);

}  // namespace qsweep::cli
