// Quantized weights in their packed form, and the round trip to fp32.
//
// Layout (for every quantized kind), weights W [out, in], groups of g along
// `in` (g = in when per channel), G = ceil(in / g) groups per row (the last
// one shorter when g does not divide in):
//   codes   uint32 words, PackCodes layout (bit_packing.h), `bits` per code:
//             int sym:  q + 2^(b-1), q in [-2^(b-1), 2^(b-1) - 1]   W = q · s
//             int asym: q in [0, 2^b - 1]                          W = (q - z) · s
//             binary:   1 = +, 0 = -                               W = ±s
//             ternary:  0, 1, 2 for -1, 0, +1                      W = (c - 1) · s
//             nf4/fp4:  index into kNf4Table / kFp4Table           W = table[c] · s
//             fp8:      e4m3 code                                  W = fp8(c) · s
//   scales  fp16 bits [out, G]  (int, nf4, fp4: rounded up so |W / s| never
//           exceeds the code range; binary, ternary: round to nearest)
//   zeros   uint8 [out, G]       (asymmetric only)
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "quant/weight_format.h"

namespace qsweep {

struct QuantizedWeights {
  WeightFormat format;
  int64_t out = 0, in = 0, groups = 0;
  std::vector<uint32_t> codes;
  std::vector<uint16_t> scales;
  std::vector<uint8_t> zeros;

  int64_t group_size() const { return format.group > 0 ? format.group : in; }
  float Scale(int64_t row, int64_t group) const;
  int64_t packed_bytes() const;
};

// Deterministic round-to-nearest quantization (`format` must be quantized).
QuantizedWeights QuantizeWeights(const WeightFormat& format, std::span<const float> w, int64_t out, int64_t in);
void DequantizeWeights(const QuantizedWeights& q, std::span<float> w);

// fp16 bits of the smallest fp16 >= x (x >= 0, finite).
uint16_t RoundUpToF16(float x);

}  // namespace qsweep
