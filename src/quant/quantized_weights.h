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
//   scales  fp16 bits [out, G]  (int, nf4, fp4, fp8: rounded up so |W / s| never
//           exceeds the code range; binary, ternary: round to nearest)
//   zeros   uint8 [out, G]       (asymmetric only)
// Scales are fp16 rather than bf16: 10 mantissa bits keep the grid within
// 0.05% of absmax / qmax, and every supported GPU converts fp16 natively.
// Bits per weight count them honestly (weight_format.h BitsPerWeight):
// b + 16 / g, plus 8 / g for the zero point.
//
// Choices of the round-to-nearest quantizers (all deterministic):
//   int sym   s = absmax / (2^(b-1) - 1), q = rint(W / s) (ties to even)
//   int asym  range [min(lo, 0), max(hi, 0)], s = range / (2^b - 1),
//             z = rint(-min / s), q = clamp(rint(W / s) + z, 0, 2^b - 1)
//   binary    s = mean |W| of the group (minimizes the L2 error of sign·s)
//   ternary   TWN (Li et al. 2016): threshold 0.7·mean |W|, s = mean |W| of
//             the weights above it
//   nf4/fp4   s = block absmax, code = nearest table entry of W / s (lowest
//             code on a tie)
//   fp8       s = row absmax / 448, code = e4m3 of W / s (fp8.h rounding)
// Error bound: |W - deq(q(W))| <= s/2 for int (sym and asym).
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

// Whether input columns [begin, end) of `q` start and end on group
// boundaries (or the scales are per channel), so that the cut keeps every
// code and scale of the whole: SliceQuantizedColumns then applies.
bool ColumnsCutOnGroups(const QuantizedWeights& q, int64_t begin, int64_t end);
// The codes and scales of columns [begin, end): dequantizes to the same
// values as those columns of the whole. Needs ColumnsCutOnGroups.
QuantizedWeights SliceQuantizedColumns(const QuantizedWeights& q, int64_t begin, int64_t end);

// fp16 bits of the smallest fp16 >= x (x >= 0, finite).
uint16_t RoundUpToF16(float x);

// The integer grid of one group (kInt formats), by the round-to-nearest rule
// above: its fp16 scale and (asymmetric) zero point. GPTQ uses the same grid,
// computed from the error-updated weights.
struct IntGrid {
  uint16_t scale_bits = 0;
  float scale = 0;  // F16ToFloat(scale_bits)
  float zero = 0;   // asymmetric only, an integer in [0, 2^b - 1]
};
// The grid of the n values x[0], x[stride], ..., x[(n-1)·stride].
IntGrid IntGroupGrid(const WeightFormat& f, const float* x, int64_t n, int64_t stride = 1);
IntGrid IntGroupGrid(const WeightFormat& f, const double* x, int64_t n, int64_t stride = 1);
// The stored code of v on the grid (clamped to the code range), and its value.
uint8_t IntCode(const WeightFormat& f, const IntGrid& g, float v);
float IntCodeValue(const WeightFormat& f, const IntGrid& g, uint8_t code);

}  // namespace qsweep
