// Linear weights as GPTQ and AWQ checkpoints store them (what AutoGPTQ,
// GPTQModel and AutoAWQ write into safetensors, with `quantization_config`
// in config.json), and their exact dequantization. For a layer of `out`
// output and `in` input features, `bits` ∈ {2, 4, 8} (AWQ: 4), p = 32 / bits
// codes per int32 word, groups of `group` input features (G = in / group):
//
//   GPTQ  qweight int32 [in / p, out]   code (i, o) = word[i / p][o] >> (bits·(i % p))
//         qzeros  int32 [G, out / p]    zero (g, o) = word[g][o / p] >> (bits·(o % p)), plus 1 in
//                                       the v1 format (AutoGPTQ stored zero − 1)
//         scales  fp16  [G, out]
//         g_idx   int32 [in]            the group of each input feature (act-order permutes
//                                       them; absent: i / group)
//   AWQ   qweight int32 [in, out / 8]   code (i, o) = word[i][o / 8] >> (4·k), where nibble
//         qzeros  int32 [G, out / 8]    k holds column 8·(o / 8) + kAwqOrder[k], kAwqOrder =
//         scales  fp16  [G, out]        {0, 2, 4, 6, 1, 3, 5, 7} (AutoAWQ's packing order)
//
//   compressed-tensors "pack-quantized" (llm-compressor), P = ceil(in / p):
//         weight_packed      int32 [out, P]   code (i, o) = word[o][i / p] >> (bits·(i % p)),
//                                             stored as the signed code + 2^(bits-1)
//         weight_zero_point  int32 [ceil(out / p), G]  (asymmetric only) zero (g, o) =
//                                             word[o / p][g] >> (bits·(o % p)), offset alike;
//                                             symmetric: zero = 2^(bits-1)
//         weight_scale       fp16, bf16 or fp32 [out, G]
//         weight_shape       int32 [2] = {out, in};  weight_g_idx int32 [in] (optional)
//
//   W[o][i] = scale(g, o) · (code(i, o) − zero(g, o)),  g = g_idx[i] or i / group,
//
// computed in fp32, where every such product is exact (an 11-bit fp16
// significand, 8-bit bf16, times a code difference of at most 9 bits; fp32
// scales round once).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "core/dtype.h"
#include "quant/quantized_weights.h"

namespace qsweep {

enum class PackedIntMethod { kGptq, kAwq, kCompressed };

struct PackedIntFormat {
  PackedIntMethod method = PackedIntMethod::kGptq;
  int bits = 4;
  int64_t group = 128;         // input features per group; `in` for one group
  bool zero_plus_one = true;   // GPTQ v1
  bool symmetric = false;      // compressed-tensors without weight_zero_point
  std::string Describe() const;  // "gptq-int4-g128", "awq-int4-g128", "ct-int4-g128" (compressed-tensors)
};

// The tensors of one layer, as mapped from the files (any alignment).
struct PackedIntTensors {
  const uint8_t* qweight = nullptr;
  const uint8_t* qzeros = nullptr;
  const uint8_t* scales = nullptr;  // scale_dtype: fp16 (GPTQ, AWQ), bf16 or fp32 (compressed-tensors)
  const uint8_t* g_idx = nullptr;   // int32 [in], or null
  DType scale_dtype = DType::kF16;
};

// The shapes a layer of [out, in] must have under `f` ([rows, cols] each;
// qzeros of a symmetric layer: none); g_idx's values are checked by
// CheckGroupIndex.
struct PackedIntShapes {
  int64_t qweight[2], qzeros[2], scales[2];
};
PackedIntShapes ExpectedPackedIntShapes(const PackedIntFormat& f, int64_t out, int64_t in);
// Whether the format can hold a layer of [out, in] (bits, group divides in,
// words divide the packed dimension); why not, naming `tensor`.
absl::Status CheckPackedIntLayer(const PackedIntFormat& f, int64_t out, int64_t in, const std::string& tensor);
absl::Status CheckGroupIndex(const PackedIntFormat& f, const uint8_t* g_idx, int64_t in, const std::string& tensor);

// Rows [row_begin, row_end) (output features) × columns [col_begin, col_end)
// (input features) of W, row-major into `out`.
void DequantizePackedInt(const PackedIntFormat& f, const PackedIntTensors& t, int64_t out_features,
                         int64_t in_features, int64_t row_begin, int64_t row_end, int64_t col_begin,
                         int64_t col_end, float* out);

// Rows [row_begin, row_end) of W as qsweep's integer format
// (quantized_weights.h: the same codes, zero points and fp16 scales, groups
// of `group`, one per row where group = in; asymmetric, but symmetric for
// compressed-tensors' symmetric layers), which dequantizes to
// DequantizePackedInt's values bit for bit. nullopt where that format cannot
// hold it: act-order (g_idx other than i / group), an 8-bit GPTQ v1 zero
// point of 256 that a uint8 cannot hold, or a bf16/fp32 scale that fp16
// does not hold exactly.
std::optional<QuantizedWeights> PackedIntRows(const PackedIntFormat& f, const PackedIntTensors& t,
                                              int64_t out_features, int64_t in_features, int64_t row_begin,
                                              int64_t row_end);

}  // namespace qsweep
