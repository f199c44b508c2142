// Dynamic per-token activation quantization and the scaling epilogue of the
// integer and fp8 products (W8A8, W4A8, W4A4, FP8). The numerics are those
// of the CPU reference (quant/packed_linear.cc, QuantizeActivationRow and
// ActQuantLinear): a row's scale is absmax / qmax (absmax / 448 for e4m3),
// each code rint(x / scale) clamped to ±qmax (e4m3: round to nearest even,
// saturating), the product float(Σ codes·codes) · x_scale · w_scale in that
// order. With the same inputs the codes, the scales and the integer
// products' results are the CPU's bit for bit.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qsweep::kernels {

enum class ActCode { kInt8, kInt4, kFp8 };  // int4 codes are held in int8

// x [rows, cols] (row stride ldx, fp32 or bf16) → codes [rows, ld_codes]
// (int8, or e4m3 bit patterns; columns cols..ld_codes are zero, so padded
// products add nothing) and scales [rows].
template <typename T>
void QuantizeActivations(const T* x, int64_t rows, int64_t cols, int64_t ldx, ActCode code, int8_t* codes,
                         int64_t ld_codes, float* scales, cudaStream_t s);

// Packed 4-bit two's-complement codes (code 2j in the low nibble of byte j)
// → int8, `count` codes (even).
void UnpackInt4(const uint8_t* packed, int64_t count, int8_t* out, cudaStream_t s);

// y[r, c] = acc[r, c] · row_scale[r] · col_scale[c] for c < cols (acc row
// stride ld_acc, int32 or fp32), written as fp32 or bf16, or added to an
// fp32 y when accumulating.
enum class ScaledOut { kF32, kBf16, kAddF32 };
template <typename A>
void ScaleProduct(const A* acc, int64_t rows, int64_t cols, int64_t ld_acc, const float* row_scale,
                  const float* col_scale, void* y, int64_t ldy, ScaledOut out, cudaStream_t s);

}  // namespace qsweep::kernels
