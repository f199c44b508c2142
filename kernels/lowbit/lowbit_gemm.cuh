// The low-bit GEMM family: y = x·Wᵀ with W kept packed in device memory
// (the layout of src/quant/mma_tiled_weights.h) and x bf16, for every
// weight-only format. One kernel template, one dequantization functor per
// format (dequant_formats.cuh), one translation unit per format, one selector.
//
// Two regimes, chosen by the caller:
//   gemm        rows <= kLowbitMaxRows (decode, memory-bound): streams the
//               packed weights once, dequantizes them in registers straight
//               into tensor-core operands, accumulates in fp32;
//   dequantize  W to bf16 [out, in] (for a cuBLASLt GEMM over many rows,
//               where the weights are read once per thousands of rows and
//               their expansion costs a few percent).
// Both compute with a weight exactly as the CPU reference defines it: the
// dequantize kernel writes the fp32 value of quantized_weights.h rounded
// once to bf16; the gemm uses that fp32 value itself for integer and sign
// formats with groups of 64 inputs and more or one scale per row (its wide
// path, dequant_formats.cuh), and the same bf16 rounding for the others.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qsweep::kernels {

constexpr int64_t kLowbitMaxRows = 64;

// Device pointers to weights in the tiled layout, with its dimensions.
struct LowbitWeights {
  const uint32_t* codes = nullptr;
  const uint16_t* scales = nullptr;  // fp16 bits [groups_padded][out_padded]
  const uint8_t* zeros = nullptr;    // asymmetric formats only
  int64_t out = 0, in = 0, out_padded = 0, in_padded = 0;
  // Inputs per scale: 2^group_shift, or -1 for one scale per row (the
  // group of input k is then 0; k >> shift keeps 64-bit division, an
  // emulated routine of about a hundred instructions, out of the loop).
  int group_shift = -1;
  float table[16] = {};  // NF4 / FP4: the codebook
};

enum class LowbitOut { kBf16, kF32, kAddF32 };  // y = r (bf16 or fp32), or y += r (fp32)

// How the gemm splits the input dimension across thread blocks: a function
// of the weight's shape and the device alone, never of the row count, so a
// row's result is the same in every batch.
struct LowbitSplit {
  int slices = 1;
  int64_t chunks_per_slice = 1;
};
LowbitSplit LowbitSplitFor(int64_t out_padded, int64_t in_padded, int sms);
// Device memory the gemm needs beside its operands (split partial sums and
// the slices' counters), for up to kLowbitMaxRows rows. Zeroed once before
// its first use; the kernels leave it zeroed.
int64_t LowbitWorkspaceBytes(int64_t out_padded, int64_t in_padded, int sms);

// The gemm's wide path (dequant_formats.cuh) takes groups of 64 inputs
// and more, or one scale per row, for the formats that have it.
constexpr bool LowbitWideGroups(int group_shift) { return group_shift < 0 || group_shift >= 6; }

struct LowbitKernels {
  // y[rows, out] (row stride ldy) = x[rows, in] (row stride ldx) · Wᵀ.
  // Needs rows <= kLowbitMaxRows, x 16-byte aligned, in and ldx multiples of 8.
  void (*gemm)(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
               LowbitOut mode, void* workspace, int sms, cudaStream_t stream);
  // out[n, k] (row stride in) = W[n, k] in bf16.
  void (*dequantize)(const LowbitWeights& w, __nv_bfloat16* out, cudaStream_t stream);
  bool has_wide_path = false;
};

// Whether gemm computes with the reference's fp32 weights exactly (the
// wide path) rather than their bf16 rounding.
inline bool LowbitGemmKeepsFp32Weights(const LowbitKernels& k, const LowbitWeights& w) {
  return k.has_wide_path && LowbitWideGroups(w.group_shift);
}

enum class LowbitFormat { kIntSym, kIntAsym, kBinary, kTernary, kNf4, kFp4, kFp8 };
// The instances for a format and its code bits; null where there is none.
const LowbitKernels* LowbitKernelsFor(LowbitFormat format, int bits);

// The per-format tables of instances (one translation unit each).
const LowbitKernels* LowbitIntSymKernels(int bits);
const LowbitKernels* LowbitIntAsymKernels(int bits);
const LowbitKernels* LowbitSignKernels(LowbitFormat format);  // binary, ternary
const LowbitKernels* LowbitCodebookKernels(LowbitFormat format);  // nf4, fp4
const LowbitKernels* LowbitFp8Kernels();

}  // namespace qsweep::kernels
