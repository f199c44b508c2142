#include "pair_logit_stats.cuh"

#include <cmath>
#include <cstdint>

#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

// One block of 512 threads per row. At most 64 registers a thread lets two
// blocks share an SM where shared memory allows (staged slices of up to
// ~14k columns); wider staged slices run one block, 16 warps, an SM.
constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
static_assert((kWarps & (kWarps - 1)) == 0 && kWarps <= 32, "the block sums are a binary tree over one warp");
constexpr int kLoadsInFlight = 4;  // 16-byte loads a thread issues at once in pass 1

// Shared floats one staged row of n logits takes: up to 3 floats of padding
// in front, so that the row's 16-byte aligned columns land on 16-byte
// aligned shared addresses, rounded up to whole float4s.
__host__ __device__ constexpr int64_t StagedRowFloats(int64_t n) { return (n + 3 + 3) / 4 * 4; }
constexpr size_t kMaxStagedBytes = 2 * StagedRowFloats(kPairLogitStagedColumns) * sizeof(float);
static_assert(kMaxStagedBytes <= 192 * 1024, "the staged rows fit in an SM's shared memory (227 KiB on sm_90)");

// The leading floats of x before its first 16-byte aligned address (0..3).
__device__ inline int LeadingFloats(const float* x) {
  return static_cast<int>(((16 - (reinterpret_cast<uintptr_t>(x) & 15)) & 15) / 4);
}

// A maximum so far: its value and the lowest column reaching it, -1 while
// no column was a number. Take keeps the larger value, on ties the lower
// column; NaN never replaces anything (`v > m` is false, as in the
// reference), and neither does -inf (-1 is never above a column). The order
// is total, so any order of Take calls gives the same Best, bit for bit:
// even a zero maximum's sign is that of the reference's first column.
struct Best {
  float v;
  int32_t i;
};
__device__ inline void Take(Best& b, float v, int32_t i) {
  if (v > b.v || (v == b.v && i < b.i)) {
    b.v = v;
    b.i = i;
  }
}

// Pass 1 over one row of n logits: this thread's Best of its columns, and
// with kStaged the row copied to shared memory at stage[pad + i] (pad from
// the row's alignment, see StagedRowFloats). The pass is bound by device
// memory: 16-byte loads where the row allows (the row's start is only
// 4-byte aligned: a slice starts at any column), a float at a time before
// and after; consecutive threads take consecutive float4s, so a warp reads
// 512 contiguous bytes per load, and each thread has kLoadsInFlight of them
// in flight (32 KiB a block) before it looks at the first. The copies into
// shared memory are 16-byte stores of the same float4s. Which thread sees
// which column may depend on the row's alignment; the row's Best does not.
template <bool kStaged>
__device__ Best ScanRow(const float* __restrict__ x, int64_t n, float* stage) {
  Best best{-INFINITY, -1};
  const int lead = LeadingFloats(x);
  const int64_t head = n < lead ? n : lead;
  if constexpr (kStaged) stage += (4 - lead) & 3;  // stage + head is 16-byte aligned
  if (threadIdx.x < head) {
    const float v = x[threadIdx.x];
    Take(best, v, static_cast<int32_t>(threadIdx.x));
    if constexpr (kStaged) stage[threadIdx.x] = v;
  }
  const int64_t quads = (n - head) / 4;
  const float4* __restrict__ x4 = reinterpret_cast<const float4*>(x + head);
  for (int64_t q0 = threadIdx.x; q0 < quads; q0 += kLoadsInFlight * kThreads) {
    float4 v[kLoadsInFlight];
#pragma unroll
    for (int k = 0; k < kLoadsInFlight; ++k)  // every load issued before the first is used
      if (q0 + k * kThreads < quads) v[k] = x4[q0 + k * kThreads];
#pragma unroll
    for (int k = 0; k < kLoadsInFlight; ++k) {
      const int64_t q = q0 + k * kThreads;
      if (q >= quads) break;
      const auto j = static_cast<int32_t>(head + 4 * q);
      Take(best, v[k].x, j);
      Take(best, v[k].y, j + 1);
      Take(best, v[k].z, j + 2);
      Take(best, v[k].w, j + 3);
      if constexpr (kStaged) reinterpret_cast<float4*>(stage + head)[q] = v[k];
    }
  }
  for (int64_t i = head + 4 * quads + threadIdx.x; i < n; i += kThreads) {
    const float v = x[i];
    Take(best, v, static_cast<int32_t>(i));
    if constexpr (kStaged) stage[i] = v;
  }
  return best;
}

// The block's Best, in every thread: within each warp by shuffles, then
// every thread over the warps' (a broadcast read of kWarps entries). The
// barrier also publishes pass 1's staged rows to the whole block.
__device__ Best BlockBest(Best b, Best* warp_best) {
  for (int off = 16; off > 0; off /= 2) {
    const float v = __shfl_xor_sync(0xffffffffu, b.v, off);
    const int32_t i = __shfl_xor_sync(0xffffffffu, b.i, off);
    Take(b, v, i);
  }
  if (threadIdx.x % 32 == 0) warp_best[threadIdx.x / 32] = b;
  __syncthreads();
  Best r{-INFINITY, -1};
  for (int w = 0; w < kWarps; ++w) Take(r, warp_best[w].v, warp_best[w].i);
  return r;
}

// The four sums of a row.
struct Sums {
  double base_sum = 0, cand_sum = 0, base_dot = 0, cand_dot = 0;
};

// The block's sum of each thread's `s`, in thread 0: a fixed binary tree
// (butterfly shuffles within each warp, the same over the warps' sums in
// warp 0), so that the order depends on kThreads alone.
__device__ Sums BlockSums(Sums s, double (*warp_sums)[kWarps]) {
  double v[4] = {s.base_sum, s.cand_sum, s.base_dot, s.cand_dot};
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    for (int off = 16; off > 0; off /= 2) v[k] += __shfl_xor_sync(0xffffffffu, v[k], off);
    if (lane == 0) warp_sums[k][warp] = v[k];
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[k] = lane < kWarps ? warp_sums[k][lane] : 0.0;
      for (int off = kWarps / 2; off > 0; off /= 2) v[k] += __shfl_xor_sync(0xffffffffu, v[k], off);
    }
  }
  return {v[0], v[1], v[2], v[3]};
}

// One block per row, two passes. Pass 1 (ScanRow) reads the row of b and
// the row of c from device memory once, for the maxima and b's argmax; with
// kStaged it leaves both rows in shared memory, so that pass 2 reads no
// device memory at all; without it (slices wider than
// kPairLogitStagedColumns, more than shared memory holds) pass 2 reads the
// rows again, from L2 as far as they are still there. Pass 2 is the
// arithmetic, fp64 only here: each term from the fp32 logits widened to
// double, two double exp a column (CUDA's exp, within an ulp of the
// host's), which by estimate (~20 fp64 instructions an exp) costs about as
// much as pass 1's loads; the loads themselves stay 4 bytes a logit. nvcc
// fuses a dot's multiply and add where the reference may round twice: a
// difference of rounding, like the order.
//
// Order of the sums, fixed so that a row's result depends on the row alone
// (not on the other rows, their number, the slice's alignment or whether it
// was staged): thread t adds columns t, t + kThreads, t + 2·kThreads, ... in
// that order, then BlockSums adds the threads' sums in a fixed tree. The
// maxima need no order (Take is order-free). A row with c == b gives dot
// terms exp(·)·0 = +0, so both dots are exactly 0.
template <bool kStaged>
__global__ void __launch_bounds__(kThreads, 2)
    PairLogitStatsKernel(const float* __restrict__ base, const float* __restrict__ cand, int64_t ld,
                         int64_t col_begin, int64_t n, const int32_t* __restrict__ targets, int64_t vocab_begin,
                         PairLogitOut out) {
  extern __shared__ float4 staged[];  // [2, StagedRowFloats(n)] floats with kStaged, else empty
  __shared__ Best warp_base[kWarps], warp_cand[kWarps];
  __shared__ double warp_sums[4][kWarps];
  const int64_t row = blockIdx.x;
  const float* xb = base + row * ld + col_begin;
  const float* xc = cand + row * ld + col_begin;
  float* sb = reinterpret_cast<float*>(staged);
  float* sc = sb + StagedRowFloats(n);

  const Best bb = BlockBest(ScanRow<kStaged>(xb, n, sb), warp_base);
  const Best bc = BlockBest(ScanRow<kStaged>(xc, n, sc), warp_cand);

  const float* rb = xb;
  const float* rc = xc;
  if constexpr (kStaged) {  // where ScanRow put the rows
    rb = sb + ((4 - LeadingFloats(xb)) & 3);
    rc = sc + ((4 - LeadingFloats(xc)) & 3);
  }
  const double mb = bb.v, mc = bc.v;
  Sums s;
#pragma unroll 4
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const double b = rb[j], c = rc[j];
    const double eb = exp(b - mb), ec = exp(c - mc);
    s.base_sum += eb;
    s.cand_sum += ec;
    s.base_dot += eb * (b - c);
    s.cand_dot += ec * (c - b);
  }
  s = BlockSums(s, warp_sums);

  if (threadIdx.x == 0) {
    out.base_max[row] = bb.v;
    out.base_argmax[row] = bb.i < 0 ? -1 : static_cast<int32_t>(bb.i + vocab_begin);
    const int64_t t = int64_t{targets[row]} - vocab_begin;
    out.base_target_logit[row] = t >= 0 && t < n ? xb[t] : NAN;
    out.cand_max[row] = bc.v;
    out.base_sum[row] = s.base_sum;
    out.cand_sum[row] = s.cand_sum;
    out.base_dot[row] = s.base_dot;
    out.cand_dot[row] = s.cand_dot;
  }
}

}  // namespace

void PairLogitStats(const float* base, const float* cand, int64_t rows, int64_t ld, int64_t col_begin,
                    int64_t col_end, const int32_t* targets, int64_t vocab_begin, const PairLogitOut& out,
                    cudaStream_t s) {
  const int64_t n = col_end - col_begin;
  if (rows == 0) return;
  const auto grid = static_cast<unsigned>(rows);
  if (n <= kPairLogitStagedColumns) {
    static const bool configured = cudaFuncSetAttribute(PairLogitStatsKernel<true>,
                                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        static_cast<int>(kMaxStagedBytes)) == cudaSuccess;
    (void)configured;  // a failure shows as the launch's error
    const size_t bytes = 2 * StagedRowFloats(n) * sizeof(float);
    PairLogitStatsKernel<true><<<grid, kThreads, bytes, s>>>(base, cand, ld, col_begin, n, targets, vocab_begin, out);
  } else {
    PairLogitStatsKernel<false><<<grid, kThreads, 0, s>>>(base, cand, ld, col_begin, n, targets, vocab_begin, out);
  }
  QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
