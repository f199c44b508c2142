// The pair statistics of two models' logits over one vocabulary slice
// (Backend::PairLogitStatistics, LogitStats' base_* and cand_* arrays): for
// each row, over columns [col_begin, col_end) of a baseline's fp32 logits b
// and a candidate's c, the maxima of b and c, b's argmax and target logit,
// and in fp64 Σexp(b−max b), Σexp(c−max c), Σexp(b−max b)·(b−c) and
// Σexp(c−max c)·(c−b). The CPU reference is ref::PairLogitRow
// (src/backend/cpu/reference_ops.h); the randomized test against it is in
// src/backend/cuda/cuda_backend_test.cc, run on the GPU machine.
//
// A row's results depend on that row alone, summed in an order fixed by the
// slice's width (the batch-invariance rule, kernels/query_blocks.h): the
// maxima and argmax equal the reference's exactly, the fp64 sums agree with
// its column-order sums to rounding (~1e-12 relative).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace qsweep::kernels {

// Where row r's statistics go (each array holds one value per row).
struct PairLogitOut {
  float* base_max;           // max over the numbers of b (NaN skipped; -inf when none)
  int32_t* base_argmax;      // the lowest column reaching it + vocab_begin; -1 when no column is a number
  float* base_target_logit;  // b[target − vocab_begin]; NaN when the target is outside the slice
  float* cand_max;           // max over the numbers of c
  double* base_sum;          // Σ exp(b − base_max)
  double* cand_sum;          // Σ exp(c − cand_max)
  double* base_dot;          // Σ exp(b − base_max)·(b − c)
  double* cand_dot;          // Σ exp(c − cand_max)·(c − b)
};

// Slices of up to this many columns are read from device memory once, both
// rows kept in shared memory between the two passes (192 KiB at most);
// wider slices are read twice. The results are the same either way.
constexpr int64_t kPairLogitStagedColumns = 24572;

// Rows r < rows of `base` and `cand` (fp32, both with row stride ld), one
// target per row (global vocabulary ids; column col_begin is id vocab_begin).
void PairLogitStats(const float* base, const float* cand, int64_t rows, int64_t ld, int64_t col_begin,
                    int64_t col_end, const int32_t* targets, int64_t vocab_begin, const PairLogitOut& out,
                    cudaStream_t s);

}  // namespace qsweep::kernels
