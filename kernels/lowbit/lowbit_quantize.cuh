// Round-to-nearest quantization on the device, straight into the low-bit
// family's tiled layout (src/quant/mma_tiled_weights.h), from bf16 weights
// already in device memory. The codes and scales equal those of the CPU
// quantizer (src/quant/quantized_weights.cc, QuantizeWeights followed by
// SliceQuantizedColumns and TileForMma) bit for bit: every grid is computed
// with the CPU's operations in the CPU's order (fp32 divisions, the double
// sums of binary and ternary taken sequentially over the group), with
// explicit round-to-nearest intrinsics so that no multiply-add is contracted.
//
// A weight may be held as column parts (a row-parallel layer's canonical
// parts): element (n, k) of the whole [out, in] weight lies at
// part[k / width][n * width + k % width]. The grids are those of the whole
// weight (per channel: one scale over the whole row, across parts); each
// part is then written in its own tiled layout, as the CPU slices the
// quantized whole into parts.
//
// Two passes: Grids, one thread per (row, group) walking its group in order;
// Part, one thread per lane of a tiled 16 x 256 block, assembling the lane's
// 4·bits words in registers from the 128 codes the layout gives it, and one
// thread per tiled scale. Neither pass is on a sweep's critical path beyond
// a second per model; they favour the CPU's order of operations over speed.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "lowbit/lowbit_gemm.cuh"

namespace qsweep::kernels {

constexpr int kMaxDenseParts = 8;

struct DenseParts {
  const __nv_bfloat16* part[kMaxDenseParts] = {};
  int count = 1;
  int64_t width = 0;  // columns per part; the whole has count · width
  // AWQ's transforms of the weight before it is quantized (null: none):
  // each column k multiplied by column_scale[k] in fp32 (ScaleColumns), then
  // each value clamped to ±clip of its (row, group) ([out][groups] of the
  // whole, the grids' cells), as quant/awq.cc AwqClip clamps.
  const float* column_scale = nullptr;
  const float* clip = nullptr;
};

struct LowbitQuantizeFormat {
  LowbitFormat kind = LowbitFormat::kIntSym;
  int bits = 4;
  int64_t group = 0;     // inputs per scale of the whole; 0: one per row
  float table[16] = {};  // NF4 / FP4: the codebook
};

// The per-(row, group) grids of the whole weight that Part reads.
struct LowbitGrids {
  uint16_t* scale_bits = nullptr;  // fp16 [out][groups]
  uint8_t* zeros = nullptr;        // [out][groups], asymmetric
  float* thresholds = nullptr;     // [out][groups], ternary
  int64_t groups = 0;
};
// Bytes of the grids' three arrays (each 256-byte aligned) for a weight
// [out, in], and the grids laid out in `scratch` of that size.
int64_t LowbitGridBytes(const LowbitQuantizeFormat& f, int64_t out, int64_t in);
LowbitGrids LowbitGridsIn(void* scratch, const LowbitQuantizeFormat& f, int64_t out, int64_t in);

void LowbitQuantizeGrids(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, const LowbitGrids& grids,
                         cudaStream_t stream);
// Part `p` of the weight into its tiled arrays (LowbitWeights' layout for
// [out, w.width]: codes of out_padded / 16 · in_padded / 256 · 128 · bits
// words, scales and zeros [groups_padded][out_padded]), every word and
// scale written, padding included.
void LowbitQuantizePart(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, int p,
                        const LowbitGrids& grids, uint32_t* codes, uint16_t* scales, uint8_t* zeros,
                        int64_t out_padded, int64_t in_padded, int64_t groups_padded, cudaStream_t stream);

// AWQ's scale-search candidate (quant/awq.h QuantizeScaledForSearch) for
// the integer formats: the grids (LowbitQuantizeGrids of w with its column
// scales), then each value's dequantized code divided by its column's
// scale, rounded to bf16, into dst [out, in] (one part).
void LowbitFakeQuantize(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, const LowbitGrids& grids,
                        __nv_bfloat16* dst, cudaStream_t stream);

}  // namespace qsweep::kernels
