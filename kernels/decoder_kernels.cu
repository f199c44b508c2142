#include "decoder_kernels.cuh"

#include <cfloat>
#include <cmath>

#include "dependent_launch.cuh"
#include "element.cuh"
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

constexpr int kThreads = 256;
inline int Blocks(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void EmbedKernel(const T* table, int64_t dim, const int32_t* ids, int64_t rows, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= rows * dim) return;
  const int64_t r = i / dim, c = i % dim;
  out[i] = static_cast<float>(table[int64_t{ids[r]} * dim + c]);
}

// One block per row: the sum of squares by a block reduction, in fp32 with a
// double final accumulate for long rows.
template <typename T>
__global__ void RmsNormKernel(const float* x, const float* w, int64_t dim, float eps, T* out, bool vector) {
  pdl::AllowDependents();  // a low-bit product after it streams its weights meanwhile
  const float* xr = x + blockIdx.x * dim;
  T* o = out + blockIdx.x * dim;
  __shared__ double partial[kThreads];
  // 16-byte loads when the rows allow (dim % 4 == 0, aligned): memory bound.
  const int64_t quads = vector ? dim / 4 : 0;
  const float4* x4 = reinterpret_cast<const float4*>(xr);
  double s = 0;
  for (int64_t i = threadIdx.x; i < quads; i += blockDim.x) {
    const float4 v = x4[i];
    s += double{v.x} * v.x + double{v.y} * v.y + double{v.z} * v.z + double{v.w} * v.w;
  }
  for (int64_t i = 4 * quads + threadIdx.x; i < dim; i += blockDim.x) s += double{xr[i]} * xr[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float inv = static_cast<float>(1.0 / sqrt(partial[0] / dim + eps));
  const float4* w4 = reinterpret_cast<const float4*>(w);
  for (int64_t i = threadIdx.x; i < quads; i += blockDim.x) {
    const float4 v = x4[i], g = w4[i];
    Store(o + 4 * i, v.x * inv * g.x);
    Store(o + 4 * i + 1, v.y * inv * g.y);
    Store(o + 4 * i + 2, v.z * inv * g.z);
    Store(o + 4 * i + 3, v.w * inv * g.w);
  }
  for (int64_t i = 4 * quads + threadIdx.x; i < dim; i += blockDim.x) Store(o + i, xr[i] * inv * w[i]);
}

// A thread per (row, frequency): the angle's cosine and sine (in double, as
// the reference) are computed once and applied to every head of the row.
template <typename T>
__global__ void RotaryKernel(T* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq,
                             const int32_t* positions) {
  const int64_t half = head_dim / 2;
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= rows * half) return;
  const int64_t r = i / half, j = i % half;
  double sd, cd;
  sincos(static_cast<double>(positions[r]) * inv_freq[j], &sd, &cd);
  const float c = static_cast<float>(cd), s = static_cast<float>(sd);
  for (int64_t h = 0; h < heads; ++h) {
    T* xh = x + (r * heads + h) * head_dim;
    const float a = Load(xh + j), b = Load(xh + j + half);
    Store(xh + j, a * c - b * s);
    Store(xh + j + half, b * c + a * s);
  }
}

// A thread per 16 bytes of each operand (8 bf16 or 4 fp32 elements): the
// stage is bound by memory traffic. `vector`: all three 16-byte aligned.
template <typename T>
__global__ void SwiGluKernel(const T* g, const T* u, int64_t n, T* out, bool vector) {
  pdl::AllowDependents();
  constexpr int kVec = 16 / sizeof(T);
  const int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) * kVec;
  if (i >= n) return;
  auto f = [](float a, float b) { return a / (1.0f + expf(-a)) * b; };
  if (vector && i + kVec <= n) {
    uint4 gv = *reinterpret_cast<const uint4*>(g + i), uv = *reinterpret_cast<const uint4*>(u + i), ov;
    const T* ge = reinterpret_cast<const T*>(&gv);
    const T* ue = reinterpret_cast<const T*>(&uv);
    T* oe = reinterpret_cast<T*>(&ov);
#pragma unroll
    for (int j = 0; j < kVec; ++j) Store(oe + j, f(Load(ge + j), Load(ue + j)));
    *reinterpret_cast<uint4*>(out + i) = ov;
    return;
  }
  for (int64_t j = i; j < min(n, i + kVec); ++j) Store(out + j, f(Load(g + j), Load(u + j)));
}

__global__ void AddKernel(const float* x, float* y, int64_t n) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) y[i] += x[i];
}

template <typename T>
__global__ void AddBiasKernel(const float* b, T* y, int64_t rows, int64_t cols) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < rows * cols) Store(y + i, Load(y + i) + b[i % cols]);
}

template <typename T>
__global__ void GatherRowsKernel(const T* x, int64_t cols, const int64_t* rows, int64_t n, T* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n * cols) out[i] = x[rows[i / cols] * cols + i % cols];
}

template <typename T>
__global__ void SliceColumnsKernel(const T* x, int64_t rows, int64_t cols, int64_t begin, int64_t width, T* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < rows * width) out[i] = x[(i / width) * cols + begin + i % width];
}

__global__ void ToBf16Kernel(const float* x, int64_t n, __nv_bfloat16* out) {
  pdl::AllowDependents();
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = __float2bfloat16_rn(x[i]);
}

// Orders logits for the top-k: larger value first, then the lower index.
// NaN comes after every number, so that the order stays total and every
// thread of a block picks the same candidate even on rows with NaN logits.
__device__ inline bool Before(float v, int32_t i, float w, int32_t j) {
  if (isnan(v) || isnan(w)) return isnan(v) != isnan(w) ? isnan(w) : i < j;
  return v > w || (v == w && i < j);
}

// Block-wide: the candidate that comes first in Before order among those
// after (prev_v, prev_i) — so each round of the top-k needs no list of the
// ones already taken. Returns index -1 when none is left.
__device__ void BlockNextBest(const float* v, const int32_t* idx, int64_t n, bool indexed, float prev_v,
                              int32_t prev_i, float* sv, int32_t* si, float* out_v, int32_t* out_i) {
  float best = -INFINITY;
  int32_t best_i = -1;
  for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
    const float x = v[c];
    const int32_t i = indexed ? idx[c] : static_cast<int32_t>(c);
    if ((prev_i < 0 || Before(prev_v, prev_i, x, i)) && (best_i < 0 || Before(x, i, best, best_i))) {
      best = x;
      best_i = i;
    }
  }
  // Within each warp by shuffles, then every thread over the warps' results:
  // two barriers a round (the top-k is k rounds).
  auto take = [&](float ov, int32_t oi) {
    if (oi >= 0 && (best_i < 0 || Before(ov, oi, best, best_i))) {
      best = ov;
      best_i = oi;
    }
  };
  for (int off = 16; off > 0; off /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, off);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, off);
    take(ov, oi);
  }
  if (threadIdx.x % 32 == 0) {
    sv[threadIdx.x / 32] = best;
    si[threadIdx.x / 32] = best_i;
  }
  __syncthreads();
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) take(sv[w], si[w]);
  *out_v = best;
  *out_i = best_i;
  __syncthreads();  // sv and si are written again next round
}

constexpr int kTopkCandidates = 4096;
// Up to this many candidates the top-k is ranked in one pass (quadratic in
// the candidates, over the block's threads) instead of k rounds.
constexpr int kRankedCandidates = 1024;

// f(x[i], i) for every i in [0, n), the block's threads splitting the row:
// 16-byte loads where the row allows (the passes over a logit row are bound
// by how many bytes are in flight), single floats before and after.
template <typename F>
__device__ inline void ForEachInRow(const float* x, int64_t n, F f) {
  const int64_t head = min(n, static_cast<int64_t>(((16 - (reinterpret_cast<uintptr_t>(x) & 15)) & 15) / 4));
  for (int64_t i = threadIdx.x; i < head; i += blockDim.x) f(x[i], i);
  const int64_t quads = (n - head) / 4;
  const float4* v = reinterpret_cast<const float4*>(x + head);
#pragma unroll 4
  for (int64_t i = threadIdx.x; i < quads; i += blockDim.x) {
    const float4 q = v[i];
    const int64_t j = head + 4 * i;
    f(q.x, j);
    f(q.y, j + 1);
    f(q.z, j + 2);
    f(q.w, j + 3);
  }
  for (int64_t i = head + 4 * quads + threadIdx.x; i < n; i += blockDim.x) f(x[i], i);
}

// One block per row. Max and Σexp in two passes; the top-k from a short list
// of candidates: the k-th largest of the threads' own maxima is a lower bound
// T on the row's k-th largest logit, so every top-k logit is >= T, and few
// others are. Rows with more than kTopkCandidates such logits (flat rows)
// take the slow path over the whole row.
__global__ void LogitStatsKernel(const float* logits, int64_t ld, int64_t col_begin, int64_t n,
                                 const int32_t* targets, int64_t vocab_begin, int k, float* max_out, float* sum_out,
                                 float* target_out, int32_t* topk_id, float* topk_logit) {
  const float* x = logits + blockIdx.x * ld + col_begin;
  __shared__ float sv[kThreads];
  __shared__ int32_t si[kThreads];
  __shared__ double ss[kThreads];
  __shared__ float cand_v[kTopkCandidates];
  __shared__ int32_t cand_i[kTopkCandidates];
  __shared__ float threshold;
  __shared__ int count;
  float mx = -INFINITY;
  ForEachInRow(x, n, [&](float v, int64_t) { mx = fmaxf(mx, v); });
  sv[threadIdx.x] = mx;
  if (threadIdx.x == 0) {
    count = 0;
    threshold = -INFINITY;
  }
  __syncthreads();
  if (k > 0) {  // rank of this thread's maximum among all threads' (ties by thread id)
    int rank = 0;
    for (int j = 0; j < blockDim.x; ++j) rank += sv[j] > mx || (sv[j] == mx && j < static_cast<int>(threadIdx.x));
    if (rank == min(k, static_cast<int>(blockDim.x)) - 1) threshold = mx;
  }
  __syncthreads();
  const float row_max = [&] {
    float m = sv[threadIdx.x];
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
      __syncthreads();
      if (threadIdx.x < s) sv[threadIdx.x] = fmaxf(sv[threadIdx.x], sv[threadIdx.x + s]);
    }
    __syncthreads();
    m = sv[0];
    __syncthreads();
    return m;
  }();
  const float t = threshold;
  double sum = 0;
  ForEachInRow(x, n, [&](float v, int64_t i) {
    sum += expf(v - row_max);
    if (k > 0 && v >= t) {
      const int c = atomicAdd(&count, 1);
      if (c < kTopkCandidates) {
        cand_v[c] = v;
        cand_i[c] = static_cast<int32_t>(i);
      }
    }
  });
  ss[threadIdx.x] = sum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) ss[threadIdx.x] += ss[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    max_out[blockIdx.x] = row_max;
    sum_out[blockIdx.x] = static_cast<float>(ss[0]);
    const int64_t tg = targets[blockIdx.x] - vocab_begin;
    target_out[blockIdx.x] = tg >= 0 && tg < n ? x[tg] : NAN;
  }
  if (k > 0 && count <= kRankedCandidates) {
    // Few candidates (the usual case): each one's rank in Before order is
    // its place in the top-k, so one pass and one barrier pick them all.
    const int m = count;
    for (int c = threadIdx.x; c < m; c += blockDim.x) {
      const float v = cand_v[c];
      const int32_t i = cand_i[c];
      int rank = 0;
      for (int d = 0; d < m && rank < k; ++d) rank += Before(cand_v[d], cand_i[d], v, i);
      if (rank < k) {
        topk_id[blockIdx.x * k + rank] = static_cast<int32_t>(i + vocab_begin);
        topk_logit[blockIdx.x * k + rank] = v;
      }
    }
    for (int r = m + static_cast<int>(threadIdx.x); r < k; r += blockDim.x) {  // fewer than k logits
      topk_id[blockIdx.x * k + r] = -1;
      topk_logit[blockIdx.x * k + r] = -INFINITY;
    }
    return;
  }
  const bool few = count <= kTopkCandidates;
  float prev_v = 0;
  int32_t prev_i = -1;
  for (int round = 0; round < k; ++round) {
    float v;
    int32_t i;
    if (few)
      BlockNextBest(cand_v, cand_i, count, true, prev_v, prev_i, sv, si, &v, &i);
    else
      BlockNextBest(x, nullptr, n, false, prev_v, prev_i, sv, si, &v, &i);
    if (threadIdx.x == 0) {
      topk_id[blockIdx.x * k + round] = i >= 0 ? static_cast<int32_t>(i + vocab_begin) : -1;
      topk_logit[blockIdx.x * k + round] = i >= 0 ? v : -INFINITY;
    }
    if (i < 0) {  // fewer than k logits in this slice
      for (int r = round + 1 + static_cast<int>(threadIdx.x); r < k; r += blockDim.x) {
        topk_id[blockIdx.x * k + r] = -1;
        topk_logit[blockIdx.x * k + r] = -INFINITY;
      }
      break;
    }
    prev_v = v;
    prev_i = i;
  }
}

}  // namespace

void Embed(const float* table, int64_t dim, const int32_t* ids, int64_t rows, float* out, cudaStream_t s) {
  EmbedKernel<<<Blocks(rows * dim), kThreads, 0, s>>>(table, dim, ids, rows, out);
  QSWEEP_KERNEL_CHECK();
}
void Embed(const __nv_bfloat16* table, int64_t dim, const int32_t* ids, int64_t rows, float* out, cudaStream_t s) {
  EmbedKernel<<<Blocks(rows * dim), kThreads, 0, s>>>(table, dim, ids, rows, out);
  QSWEEP_KERNEL_CHECK();
}
template <typename T>
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, T* out, cudaStream_t s) {
  const bool vector = dim % 4 == 0 && ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(w)) & 15) == 0;
  if (rows) RmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, dim, eps, out, vector);
  QSWEEP_KERNEL_CHECK();
}
template <typename T>
void Rotary(T* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq, const int32_t* positions,
            cudaStream_t s) {
  if (rows) RotaryKernel<<<Blocks(rows * head_dim / 2), kThreads, 0, s>>>(x, rows, heads, head_dim, inv_freq, positions);
  QSWEEP_KERNEL_CHECK();
}
template <typename T>
void SwiGlu(const T* gate, const T* up, int64_t n, T* out, cudaStream_t s) {
  constexpr int kVec = 16 / sizeof(T);
  const bool vector = ((reinterpret_cast<uintptr_t>(gate) | reinterpret_cast<uintptr_t>(up) |
                        reinterpret_cast<uintptr_t>(out)) & 15) == 0;
  if (n) SwiGluKernel<<<Blocks((n + kVec - 1) / kVec), kThreads, 0, s>>>(gate, up, n, out, vector);
  QSWEEP_KERNEL_CHECK();
}
void Add(const float* x, float* y, int64_t n, cudaStream_t s) {
  if (n) AddKernel<<<Blocks(n), kThreads, 0, s>>>(x, y, n);
  QSWEEP_KERNEL_CHECK();
}
template <typename T>
void AddBias(const float* b, T* y, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows) AddBiasKernel<<<Blocks(rows * cols), kThreads, 0, s>>>(b, y, rows, cols);
  QSWEEP_KERNEL_CHECK();
}
template <typename T>
void GatherRows(const T* x, int64_t cols, const int64_t* rows, int64_t n, T* out, cudaStream_t s) {
  if (n) GatherRowsKernel<<<Blocks(n * cols), kThreads, 0, s>>>(x, cols, rows, n, out);
  QSWEEP_KERNEL_CHECK();
}
template void GatherRows(const float*, int64_t, const int64_t*, int64_t, float*, cudaStream_t);
template void GatherRows(const __nv_bfloat16*, int64_t, const int64_t*, int64_t, __nv_bfloat16*, cudaStream_t);
template <typename T>
void SliceColumns(const T* x, int64_t rows, int64_t cols, int64_t begin, int64_t width, T* out, cudaStream_t s) {
  if (rows) SliceColumnsKernel<<<Blocks(rows * width), kThreads, 0, s>>>(x, rows, cols, begin, width, out);
  QSWEEP_KERNEL_CHECK();
}
void ToBf16(const float* x, int64_t n, __nv_bfloat16* out, cudaStream_t s) {
  if (n) ToBf16Kernel<<<Blocks(n), kThreads, 0, s>>>(x, n, out);
  QSWEEP_KERNEL_CHECK();
}

#define QSWEEP_INSTANTIATE(T)                                                                                      \
  template void RmsNorm<T>(const float*, const float*, int64_t, int64_t, float, T*, cudaStream_t);                 \
  template void Rotary<T>(T*, int64_t, int64_t, int64_t, const float*, const int32_t*, cudaStream_t);              \
  template void SwiGlu<T>(const T*, const T*, int64_t, T*, cudaStream_t);                                          \
  template void AddBias<T>(const float*, T*, int64_t, int64_t, cudaStream_t);                                      \
  template void SliceColumns<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, cudaStream_t);
QSWEEP_INSTANTIATE(float)
QSWEEP_INSTANTIATE(bf16)
#undef QSWEEP_INSTANTIATE
void LogitStats(const float* logits, int64_t rows, int64_t ld, int64_t col_begin, int64_t col_end,
                const int32_t* targets, int64_t vocab_begin, int k, float* max, float* sum_exp, float* target_logit,
                int32_t* topk_id, float* topk_logit, cudaStream_t s) {
  if (rows)
    LogitStatsKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, ld, col_begin, col_end - col_begin,
                                                                       targets, vocab_begin, k, max, sum_exp,
                                                                       target_logit, topk_id, topk_logit);
    QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
