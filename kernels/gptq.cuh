// GPTQ's column loop on the device, the twin of the loop in
// src/quant/gptq.cc GptqQuantize (which holds the algorithm and its
// reference): the weights W [out, in] (fp32, columns in processing order)
// and U, the upper Cholesky factor of the damped inverse Hessian (fp32
// [in, in] row-major, only j >= i read), are on the device. The caller
// walks the columns in blocks of at most kGptqBlock: GptqGroupGrids where
// a group starts at the block's first column and reaches past it, then
// GptqBlock, then the lazy batch update of the later columns (a cuBLAS
// GEMM with the errors GptqBlock wrote).
//
// Where it differs from the reference: fp32 throughout (the reference
// runs in double), so a code can differ where a value lies within
// rounding of a step between two codes. Every grid and code is otherwise
// the host's operation (kernels/quant_twins.cuh).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace qsweep::kernels {

constexpr int kGptqBlock = 128;

struct GptqFormat {
  int bits = 4;
  bool asymmetric = false;
  int64_t group = 0;  // inputs per grid; 0: one grid per row (per channel)
};

// The grids, [out][groups]: per channel and static groups are computed
// before (on the host, from the weights as given); other groups by the two
// kernels below when their first column comes up.
struct GptqGrids {
  uint16_t* scale_bits = nullptr;
  uint8_t* zeros = nullptr;  // asymmetric only
  int64_t groups = 1;
  // Static groups under act-order: the group of processing column i (the
  // group of the column it came from); null: i / group.
  const int32_t* group_of = nullptr;
  bool fixed = false;  // every grid is given (per channel, static groups)
};

// Grids of the groups that start at column `begin`, from the current
// values of their columns (all at or after `begin`, so no correction of
// this block is pending): for groups of kGptqBlock inputs or more.
void GptqGroupGrids(const GptqFormat& f, const float* w, int64_t out, int64_t in, int64_t begin,
                    const GptqGrids& grids, cudaStream_t stream);

// Columns [begin, begin + kGptqBlock) ∩ [0, in): each quantized on its grid
// (groups of at most kGptqBlock inputs that divide it get their grids here,
// from the block's current values), its code written to codes [out, in],
// its scaled error (w - q) / U_ii to err [out, kGptqBlock] and applied to
// the block's later columns. W's columns of the block are left as they
// were; only the later blocks need the errors.
void GptqBlock(const GptqFormat& f, const float* w, int64_t out, int64_t in, const float* u, int64_t begin,
               const GptqGrids& grids, uint8_t* codes, float* err, cudaStream_t stream);

}  // namespace qsweep::kernels
