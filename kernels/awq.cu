// AWQ's and SmoothQuant's device steps (awq.cuh).
#include <cuda_bf16.h>

#include "awq.cuh"
#include "launch_check.cuh"
#include "quant_twins.cuh"

namespace qsweep::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kStatRows = 256;  // rows per partial of the column statistics
constexpr int64_t kErrorChunk = 4096;  // elements per partial of the squared error

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

__device__ __forceinline__ float Load(const void* p, bool bf16, int64_t i) {
  return bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]) : static_cast<const float*>(p)[i];
}

// One thread per column and block of kStatRows rows: the block's partial
// sum (in row order) and max; adjacent threads read adjacent columns, so
// each row's loads coalesce.
__global__ void ColumnPartialsKernel(const void* x, bool bf16, int64_t rows, int64_t cols, double* sums,
                                     float* maxes) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x, chunk = blockIdx.y;
  if (j >= cols) return;
  const int64_t r0 = chunk * kStatRows, r1 = r0 + kStatRows < rows ? r0 + kStatRows : rows;
  double s = 0;
  float m = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float a = fabsf(Load(x, bf16, r * cols + j));
    s = __dadd_rn(s, static_cast<double>(a));
    m = twin::Max(m, a);
  }
  sums[chunk * cols + j] = s;
  maxes[chunk * cols + j] = m;
}

// The partials added in chunk order to the running statistics.
__global__ void ColumnFoldKernel(const double* sums, const float* maxes, int64_t chunks, int64_t cols,
                                 double* abs_sum, float* abs_max) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (j >= cols) return;
  double s = abs_sum[j];
  float m = abs_max[j];
  for (int64_t c = 0; c < chunks; ++c) {
    s = __dadd_rn(s, sums[c * cols + j]);
    m = twin::Max(m, maxes[c * cols + j]);
  }
  abs_sum[j] = s;
  abs_max[j] = m;
}

// Block tree reduction of one double per thread (kThreads threads).
__device__ double BlockSum(double v) {
  __shared__ double part[kThreads / 32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? part[threadIdx.x] : 0.0;
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void ErrorPartialsKernel(const void* a, bool a_bf16, const void* b, bool b_bf16, int64_t n,
                                    double* partials) {
  const int64_t begin = blockIdx.x * kErrorChunk, end = begin + kErrorChunk < n ? begin + kErrorChunk : n;
  double s = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const double d = static_cast<double>(Load(a, a_bf16, i)) - static_cast<double>(Load(b, b_bf16, i));
    s = fma(d, d, s);
  }
  s = BlockSum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void ErrorFoldKernel(const double* partials, int64_t count, double* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < count; i += kThreads) s += partials[i];
  s = BlockSum(s);
  if (threadIdx.x == 0) *out = s;
}

// The clip search. A block of kClipWarps warps takes kClipWarps rows of one
// group: the sample rows come through shared memory kClipTokens at a time
// (x/s widened to double, each row padded by one double so that the lanes,
// one token each, read different banks), shared by the block's rows; each
// warp walks the candidates for its row, the candidate's differences q − w
// in its own shared row, each lane adding (x_t · (q − w))² of its token.
// The candidate grids need no pass over the clamped group: clamping is
// monotone, so its max |w|, min and max are the clamp's of the group's.
constexpr int kClipWarps = 8;
constexpr int kClipTokens = 32;

__global__ void __launch_bounds__(kClipWarps * 32) AwqClipKernel(AwqClipProblem p, int64_t groups, float* kept) {
  __shared__ double xs[kClipTokens][kAwqClipMaxGroup + 1];
  __shared__ double diff[kClipWarps][kAwqClipMaxGroup];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t gi = blockIdx.y, k0 = gi * p.group;
  const int n_cols = static_cast<int>(p.group < p.in - k0 ? p.group : p.in - k0);
  const int64_t row = blockIdx.x * int64_t{kClipWarps} + warp;
  const bool live = row < p.out;
  const __nv_bfloat16* w = p.w.part[k0 / p.w.width];
  const int64_t c0 = k0 % p.w.width;  // the group's first column in its part

  // This lane's weights of the group (W·s in fp32, as the host's ScaleColumns).
  float wv[kAwqClipMaxGroup / 32];
  float absmax = 0, lo = INFINITY, hi = -INFINITY;
#pragma unroll
  for (int c = 0; c < kAwqClipMaxGroup / 32; ++c) {
    const int k = lane + 32 * c;
    wv[c] = 0;
    if (live && k < n_cols) {
      wv[c] = __fmul_rn(__bfloat162float(w[row * p.w.width + c0 + k]), p.s[k0 + k]);
      absmax = twin::Max(absmax, fabsf(wv[c]));
      lo = twin::Min(lo, wv[c]);
      hi = twin::Max(hi, wv[c]);
    }
  }
  for (int o = 16; o > 0; o /= 2) {
    absmax = twin::Max(absmax, __shfl_xor_sync(0xffffffffu, absmax, o));
    lo = twin::Min(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = twin::Max(hi, __shfl_xor_sync(0xffffffffu, hi, o));
  }

  double err[kAwqClipMaxSteps];
#pragma unroll
  for (int i = 0; i < kAwqClipMaxSteps; ++i) err[i] = 0;
  for (int64_t t0 = 0; t0 < p.rows; t0 += kClipTokens) {
    const int tokens = static_cast<int>(p.rows - t0 < kClipTokens ? p.rows - t0 : kClipTokens);
    __syncthreads();
    for (int e = threadIdx.x; e < tokens * n_cols; e += kClipWarps * 32) {
      const int t = e / n_cols, k = e % n_cols;
      xs[t][k] = static_cast<double>(__fdiv_rn(Load(p.x, p.x_bf16, (t0 + t) * p.in + k0 + k), p.s[k0 + k]));
    }
    __syncthreads();
    if (!live) continue;
    for (int i = 0; i < p.steps; ++i) {
      const float f = __double2float_rn(__dsub_rn(1.0, __ddiv_rn(static_cast<double>(i), p.n_grid)));
      const float m = __fmul_rn(absmax, f);
      const twin::IntGrid g = twin::IntGridOf(p.bits, p.asymmetric, twin::Min(absmax, m), twin::Max(lo, -m),
                                              twin::Min(hi, m));
      __syncwarp();
#pragma unroll
      for (int c = 0; c < kAwqClipMaxGroup / 32; ++c) {
        const int k = lane + 32 * c;
        if (k >= n_cols) continue;
        const float v = twin::Clamp(wv[c], -m, m);
        const float q = twin::IntCodeValue(p.bits, p.asymmetric, g.scale, g.zero,
                                           twin::IntCode(p.bits, p.asymmetric, g.scale, g.zero, v));
        diff[warp][k] = static_cast<double>(q) - static_cast<double>(wv[c]);
      }
      __syncwarp();
      if (lane < tokens) {
        double dot = 0;
        for (int k = 0; k < n_cols; ++k) dot = fma(xs[lane][k], diff[warp][k], dot);
#pragma unroll
        for (int j = 0; j < kAwqClipMaxSteps; ++j)
          if (j == i) err[j] = fma(dot, dot, err[j]);
      }
    }
  }
  if (!live) return;
  float best = absmax;
  double best_err = INFINITY;
#pragma unroll
  for (int i = 0; i < kAwqClipMaxSteps; ++i) {
    double e = err[i];
    for (int o = 16; o > 0; o /= 2) e += __shfl_xor_sync(0xffffffffu, e, o);
    if (i < p.steps && e < best_err) {
      best_err = e;
      best = __fmul_rn(absmax, __double2float_rn(__dsub_rn(1.0, __ddiv_rn(static_cast<double>(i), p.n_grid))));
    }
  }
  if (lane == 0) kept[row * groups + gi] = best;
}

}  // namespace

int64_t ColumnAbsScratch(int64_t rows, int64_t cols) {
  return CeilDiv(rows, kStatRows) * cols * 2;  // the sums, then the maxes (as floats, half the room)
}

void ColumnAbsStats(const void* x, bool bf16, int64_t rows, int64_t cols, double* scratch, double* abs_sum,
                    float* abs_max, cudaStream_t stream) {
  if (rows == 0) return;
  const int64_t chunks = CeilDiv(rows, kStatRows);
  double* sums = scratch;
  float* maxes = reinterpret_cast<float*>(scratch + chunks * cols);
  const dim3 grid(static_cast<unsigned>(CeilDiv(cols, kThreads)), static_cast<unsigned>(chunks));
  ColumnPartialsKernel<<<grid, kThreads, 0, stream>>>(x, bf16, rows, cols, sums, maxes);
  QSWEEP_KERNEL_CHECK();
  ColumnFoldKernel<<<static_cast<unsigned>(CeilDiv(cols, kThreads)), kThreads, 0, stream>>>(sums, maxes, chunks,
                                                                                          cols, abs_sum, abs_max);
  QSWEEP_KERNEL_CHECK();
}

int64_t SquaredErrorScratch(int64_t n) { return CeilDiv(n, kErrorChunk) + 1; }

void SquaredErrorSum(const void* a, bool a_bf16, const void* b, bool b_bf16, int64_t n, double* scratch,
                     double* out, cudaStream_t stream) {
  const int64_t blocks = CeilDiv(n, kErrorChunk);
  if (blocks > 0) {
    ErrorPartialsKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a, a_bf16, b, b_bf16, n, scratch);
    QSWEEP_KERNEL_CHECK();
  }
  ErrorFoldKernel<<<1, kThreads, 0, stream>>>(scratch, blocks, out);
  QSWEEP_KERNEL_CHECK();
}

void AwqClipSearch(const AwqClipProblem& p, float* kept, cudaStream_t stream) {
  const int64_t groups = CeilDiv(p.in, p.group);
  if (p.out == 0 || groups == 0) return;
  const dim3 grid(static_cast<unsigned>(CeilDiv(p.out, kClipWarps)), static_cast<unsigned>(groups));
  AwqClipKernel<<<grid, kClipWarps * 32, 0, stream>>>(p, groups, kept);
  QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
