// llama.cpp's ggml tensor block formats (as GGUF files store them), and their
// exact dequantization to fp32.
//
// A ggml tensor of a quantized type is a run of fixed-size blocks, each
// covering block_weights consecutive weights of a row (32 for the "legacy"
// Q4_0 ... Q8_0, 256 for the K-quants' super-blocks) and holding its own
// fp16 scale(s) next to the codes. Layouts are those of ggml-common.h, all
// fields little-endian, blocks packed back to back with no padding:
//
//   type  weights bytes  fields (in order)                              W =
//   Q4_0    32     18   d:f16, qs[16] (two 4-bit codes a byte)          (q - 8)·d
//   Q4_1    32     20   d:f16, m:f16, qs[16]                            q·d + m
//   Q5_0    32     22   d:f16, qh[4] (5th bits), qs[16]                 (q - 16)·d
//   Q5_1    32     24   d:f16, m:f16, qh[4], qs[16]                     q·d + m
//   Q8_0    32     34   d:f16, qs[32] (int8)                            q·d
//   Q2_K   256     84   scales[16], qs[64], d:f16, dmin:f16             q·(d·s) - dmin·m
//   Q3_K   256    110   hmask[32], qs[64], scales[12], d:f16            (q - 4)·(d·(s - 32))
//   Q4_K   256    144   d:f16, dmin:f16, scales[12], qs[128]            q·(d·s) - dmin·m
//   Q5_K   256    176   d:f16, dmin:f16, scales[12], qh[32], qs[128]    q·(d·s) - dmin·m
//   Q6_K   256    210   ql[128], qh[64], scales[16] (int8), d:f16       (d·s)·(q - 32)
//   IQ4_NL  32     18   d:f16, qs[16]                                   d·K[q]
//   IQ4_XS 256    136   d:f16, scales_h:u16, scales_l[4], qs[128]       (d·(s - 32))·K[q]
//   (K: the IQ4 types' 16-entry non-linear codebook, -127 .. 113)
//   F32 / F16 / BF16: one weight per "block", 4 / 2 / 2 bytes.
//
// The K-quants are two-level: 16 or 8 sub-blocks each carry a small integer
// scale s (and min m), themselves scaled by the super-block's fp16 d (dmin).
// The bit-level details of each format sit above its function in
// ggml_blocks.cc.
//
// Exactness: DequantizeGgml computes in fp32, operation for operation in the
// order of ggml's reference dequantize_row_* (ggml-quants.c), with an exact
// fp16 -> fp32 conversion (core/dtype.h F16ToFloat), and is compiled without
// FMA contraction, so its output is bit-identical to ggml's.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace qsweep {

// ggml's tensor types by their GGUF type id (ggml.h enum ggml_type); only the
// ones DequantizeGgml supports.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIq4Nl = 20,
  kIq4Xs = 23,
  kBF16 = 30,
};

struct GgmlTypeInfo {
  std::string_view name;  // ggml's spelling: "Q4_K", "F16", "IQ2_XXS", ...
  int64_t block_weights;  // 32, 256, or 1 for the plain types (F32, F16, BF16, I8, ...)
  int64_t block_bytes;
  bool supported;  // DequantizeGgml reads it (the GgmlType values above)
};

// Info for any type id: the supported types, and the known but unsupported
// ones (Q8_1, Q8_K, the IQ* types, I8..I64, F64; their block sizes as in
// ggml-common.h) with supported = false. Ids ggml never assigned, or that
// this table does not know, give nullopt.
std::optional<GgmlTypeInfo> GgmlTypeInfoOf(uint32_t type_id);

// 8 · block_bytes / block_weights: Q4_0 4.5, Q4_1 5, Q5_0 5.5, Q5_1 6,
// Q8_0 8.5, Q2_K 2.625, Q3_K 3.4375, Q4_K 4.5, Q5_K 5.5, Q6_K 6.5625,
// IQ4_NL 4.5, IQ4_XS 4.25,
// F16 / BF16 16, F32 32.
double GgmlBitsPerWeight(GgmlType t);

// Dequantizes n weights (n >= 0, a multiple of t's block_weights) from
// `blocks` (n / block_weights · block_bytes bytes, any alignment) into out[n].
void DequantizeGgml(GgmlType t, const uint8_t* blocks, int64_t n, float* out);

// The legacy symmetric types are qsweep's own symmetric integer formats with
// an fp16 scale per 32 weights (quantized_weights.h): Q4_0 is int4 g32, Q5_0
// int5 g32, Q8_0 int8 g32, each ggml code q standing for q - 2^(b-1) (Q8_0's
// int8 q for code q + 128). Those types' bits per code; 0 for the others.
int GgmlSymmetricIntBits(GgmlType t);
// The codes (codes[n], each < 2^bits) and fp16 scales (scales[n / 32]) of n
// weights of such a type: they dequantize as quantized_weights.h defines to
// DequantizeGgml's values, bit for bit.
void GgmlSymmetricIntCodes(GgmlType t, const uint8_t* blocks, int64_t n, uint8_t* codes, uint16_t* scales);

}  // namespace qsweep
