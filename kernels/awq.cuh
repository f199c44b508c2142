// AWQ's and SmoothQuant's statistics and searches on the device, the twins
// of src/quant/awq.cc and src/quant/smoothquant.cc (which hold the
// algorithms and their references), so that a calibration keeps its
// inputs, outputs and candidate weights where the model runs:
//   ColumnAbsStats: Σ|x| and max |x| per column (ActMeanAbs, ActAbsMax);
//   SquaredErrorSum: Σ (a − b)², the scale search's objective;
//   AwqClipSearch: AwqClip's choice of the kept max |w| per (row, group).
// Sums run in double in a fixed order (no atomics): the same inputs give
// the same results bit for bit, run after run. The order differs from the
// host's sequential sums, so a sum can differ from the host's in its last
// bits; the maxima are exact.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "lowbit/lowbit_quantize.cuh"

namespace qsweep::kernels {

// Scratch doubles ColumnAbsStats needs for x [rows, cols].
int64_t ColumnAbsScratch(int64_t rows, int64_t cols);
// abs_sum[j] += Σ_r |x[r, j]|, abs_max[j] = max(abs_max[j], max_r |x[r, j]|)
// for x bf16 or fp32.
void ColumnAbsStats(const void* x, bool bf16, int64_t rows, int64_t cols, double* scratch, double* abs_sum,
                    float* abs_max, cudaStream_t stream);

// Scratch doubles SquaredErrorSum needs for n elements.
int64_t SquaredErrorScratch(int64_t n);
// *out = Σ_i (double(a[i]) − double(b[i]))² over n elements, each array
// bf16 or fp32 (own flags); `out` is device memory.
void SquaredErrorSum(const void* a, bool a_bf16, const void* b, bool b_bf16, int64_t n, double* scratch,
                     double* out, cudaStream_t stream);

// The clip search on integer grids of groups of at most kAwqClipMaxGroup
// inputs: for each row n and group gi of W·s (W bf16 [out, in], s fp32
// [in], as column parts whose width the group divides), AwqClip's candidates max|w| · (1 − i / n_grid), i < steps, each
// clamping the group, quantizing it on its own grid and measuring
// Σ_t (Σ_k x_tk·(q_k − w_k))² over the sample rows x/s (x [rows, in], bf16
// or fp32, divided by s as the host divides its sample); the first
// smallest wins. kept [out][groups] receives the chosen max.
constexpr int kAwqClipMaxGroup = 128;
constexpr int kAwqClipMaxSteps = 16;
struct AwqClipProblem {
  DenseParts w;               // bf16 [out, in]; its transforms are not read
  const float* s = nullptr;  // [in]
  const void* x = nullptr;   // [rows, in]
  bool x_bf16 = true;
  int64_t out = 0, in = 0, rows = 0, group = 0;  // group: inputs per grid (the format's, at most in)
  int bits = 4;
  bool asymmetric = false;
  int n_grid = 20, steps = 10;
};
void AwqClipSearch(const AwqClipProblem& p, float* kept, cudaStream_t stream);

}  // namespace qsweep::kernels
