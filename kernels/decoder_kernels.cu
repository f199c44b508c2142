#include "decoder_kernels.cuh"

#include <cfloat>
#include <cmath>

namespace qsweep::kernels {
namespace {

constexpr int kThreads = 256;
inline int Blocks(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

__global__ void EmbedKernel(const float* table, int64_t dim, const int32_t* ids, int64_t rows, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= rows * dim) return;
  const int64_t r = i / dim, c = i % dim;
  out[i] = table[int64_t{ids[r]} * dim + c];
}

// One block per row: the sum of squares by a block reduction, in fp32 with a
// double final accumulate for long rows.
__global__ void RmsNormKernel(const float* x, const float* w, int64_t dim, float eps, float* out) {
  const float* xr = x + blockIdx.x * dim;
  float* o = out + blockIdx.x * dim;
  __shared__ double partial[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) s += double{xr[i]} * xr[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float inv = static_cast<float>(1.0 / sqrt(partial[0] / dim + eps));
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = xr[i] * inv * w[i];
}

__global__ void RotaryKernel(float* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq,
                             const int32_t* positions) {
  const int64_t half = head_dim / 2;
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= rows * heads * half) return;
  const int64_t r = i / (heads * half), h = (i / half) % heads, j = i % half;
  const double angle = double{positions[r]} * inv_freq[j];
  const float c = static_cast<float>(cos(angle)), s = static_cast<float>(sin(angle));
  float* xh = x + (r * heads + h) * head_dim;
  const float a = xh[j], b = xh[j + half];
  xh[j] = a * c - b * s;
  xh[j + half] = b * c + a * s;
}

// A warp per (row, head); each lane holds head_dim/32 output dims (<= 8).
__global__ void AttentionKernel(const float* q, const float* k, const float* v, int64_t rows,
                                const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin,
                                int64_t q_heads, int64_t kv_heads, int64_t head_dim, float* out) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows * q_heads) return;
  const int64_t r = warp / q_heads, h = warp % q_heads, kvh = h / (q_heads / kv_heads);
  const int64_t qs = q_heads * head_dim, kvs = kv_heads * head_dim;
  const int per_lane = static_cast<int>((head_dim + 31) / 32);
  float qv[8], acc[8];
  for (int t = 0; t < per_lane; ++t) {
    const int64_t d = lane + 32 * t;
    qv[t] = d < head_dim ? q[r * qs + h * head_dim + d] : 0.0f;
    acc[t] = 0.0f;
  }
  const float scale = rsqrtf(static_cast<float>(head_dim));
  float m = -INFINITY, l = 0.0f;
  auto visit = [&](int64_t j) {
    float dot = 0.0f;
    for (int t = 0; t < per_lane; ++t) {
      const int64_t d = lane + 32 * t;
      if (d < head_dim) dot += qv[t] * k[j * kvs + kvh * head_dim + d];
    }
    for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float sc = dot * scale;
    const float m_new = fmaxf(m, sc);
    const float correction = expf(m - m_new), p = expf(sc - m_new);
    l = l * correction + p;
    for (int t = 0; t < per_lane; ++t) {
      const int64_t d = lane + 32 * t;
      acc[t] = acc[t] * correction + (d < head_dim ? p * v[j * kvs + kvh * head_dim + d] : 0.0f);
    }
    m = m_new;
  };
  for (int64_t j = seq_begin[r]; j < prefix_end[r]; ++j) visit(j);
  for (int64_t j = branch_begin[r]; j <= r; ++j) visit(j);
  for (int t = 0; t < per_lane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < head_dim) out[r * qs + h * head_dim + d] = acc[t] / l;
  }
}

__global__ void SwiGluKernel(const float* g, const float* u, int64_t n, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

__global__ void AddKernel(const float* x, float* y, int64_t n) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) y[i] += x[i];
}

__global__ void AddBiasKernel(const float* b, float* y, int64_t rows, int64_t cols) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < rows * cols) y[i] += b[i % cols];
}

__global__ void GatherRowsKernel(const float* x, int64_t cols, const int64_t* rows, int64_t n, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n * cols) out[i] = x[rows[i / cols] * cols + i % cols];
}

__global__ void SliceColumnsKernel(const float* x, int64_t rows, int64_t cols, int64_t begin, int64_t width, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < rows * width) out[i] = x[(i / width) * cols + begin + i % width];
}

__global__ void ToBf16Kernel(const float* x, int64_t n, __nv_bfloat16* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = __float2bfloat16_rn(x[i]);
}

// One block per row. Top-k by k rounds of a block-wide argmax over the
// values not yet taken (taken ones are remembered in shared memory); k <= 64.
__global__ void LogitStatsKernel(const float* logits, int64_t ld, int64_t col_begin, int64_t n,
                                 const int32_t* targets, int64_t vocab_begin, int k, float* max_out, float* sum_out,
                                 float* target_out, int32_t* topk_id, float* topk_logit) {
  const float* x = logits + blockIdx.x * ld + col_begin;
  __shared__ float sv[kThreads];
  __shared__ int64_t si[kThreads];
  __shared__ double ss[kThreads];
  __shared__ int64_t taken[64];
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, x[i]);
  sv[threadIdx.x] = mx;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) sv[threadIdx.x] = fmaxf(sv[threadIdx.x], sv[threadIdx.x + s]);
    __syncthreads();
  }
  mx = sv[0];
  __syncthreads();
  double sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += exp(double{x[i]} - mx);
  ss[threadIdx.x] = sum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) ss[threadIdx.x] += ss[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    max_out[blockIdx.x] = mx;
    sum_out[blockIdx.x] = static_cast<float>(ss[0]);
    const int64_t t = targets[blockIdx.x] - vocab_begin;
    target_out[blockIdx.x] = t >= 0 && t < n ? x[t] : NAN;
  }
  for (int round = 0; round < k; ++round) {
    float best = -INFINITY;
    int64_t best_i = -1;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      bool used = false;
      for (int p = 0; p < round; ++p) used |= taken[p] == i;
      if (!used && (x[i] > best || (x[i] == best && (best_i < 0 || i < best_i)))) {
        best = x[i];
        best_i = i;
      }
    }
    sv[threadIdx.x] = best;
    si[threadIdx.x] = best_i;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
      if (threadIdx.x < s) {
        const float ov = sv[threadIdx.x + s];
        const int64_t oi = si[threadIdx.x + s];
        if (oi >= 0 && (si[threadIdx.x] < 0 || ov > sv[threadIdx.x] || (ov == sv[threadIdx.x] && oi < si[threadIdx.x]))) {
          sv[threadIdx.x] = ov;
          si[threadIdx.x] = oi;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      taken[round] = si[0];
      topk_id[blockIdx.x * k + round] = si[0] >= 0 ? static_cast<int32_t>(si[0] + vocab_begin) : -1;
      topk_logit[blockIdx.x * k + round] = si[0] >= 0 ? sv[0] : -INFINITY;
    }
    __syncthreads();
  }
}

}  // namespace

void Embed(const float* table, int64_t dim, const int32_t* ids, int64_t rows, float* out, cudaStream_t s) {
  EmbedKernel<<<Blocks(rows * dim), kThreads, 0, s>>>(table, dim, ids, rows, out);
}
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out, cudaStream_t s) {
  if (rows) RmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, dim, eps, out);
}
void Rotary(float* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq, const int32_t* positions,
            cudaStream_t s) {
  RotaryKernel<<<Blocks(rows * heads * head_dim / 2), kThreads, 0, s>>>(x, rows, heads, head_dim, inv_freq, positions);
}
void Attention(const float* q, const float* k, const float* v, int64_t rows, const int64_t* seq_begin,
               const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
               int64_t head_dim, float* out, cudaStream_t s) {
  AttentionKernel<<<Blocks(rows * q_heads * 32), kThreads, 0, s>>>(q, k, v, rows, seq_begin, prefix_end, branch_begin,
                                                                   q_heads, kv_heads, head_dim, out);
}
void SwiGlu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t s) {
  SwiGluKernel<<<Blocks(n), kThreads, 0, s>>>(gate, up, n, out);
}
void Add(const float* x, float* y, int64_t n, cudaStream_t s) { AddKernel<<<Blocks(n), kThreads, 0, s>>>(x, y, n); }
void AddBias(const float* b, float* y, int64_t rows, int64_t cols, cudaStream_t s) {
  AddBiasKernel<<<Blocks(rows * cols), kThreads, 0, s>>>(b, y, rows, cols);
}
void GatherRows(const float* x, int64_t cols, const int64_t* rows, int64_t n, float* out, cudaStream_t s) {
  GatherRowsKernel<<<Blocks(n * cols), kThreads, 0, s>>>(x, cols, rows, n, out);
}
void SliceColumns(const float* x, int64_t rows, int64_t cols, int64_t begin, int64_t width, float* out, cudaStream_t s) {
  SliceColumnsKernel<<<Blocks(rows * width), kThreads, 0, s>>>(x, rows, cols, begin, width, out);
}
void ToBf16(const float* x, int64_t n, __nv_bfloat16* out, cudaStream_t s) {
  ToBf16Kernel<<<Blocks(n), kThreads, 0, s>>>(x, n, out);
}
void LogitStats(const float* logits, int64_t rows, int64_t ld, int64_t col_begin, int64_t col_end,
                const int32_t* targets, int64_t vocab_begin, int k, float* max, float* sum_exp, float* target_logit,
                int32_t* topk_id, float* topk_logit, cudaStream_t s) {
  if (rows)
    LogitStatsKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, ld, col_begin, col_end - col_begin,
                                                                       targets, vocab_begin, k, max, sum_exp,
                                                                       target_logit, topk_id, topk_logit);
}

}  // namespace qsweep::kernels
