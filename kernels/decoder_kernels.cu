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
// Orders logits for the top-k: larger value first, then the lower index.
__device__ inline bool Before(float v, int32_t i, float w, int32_t j) { return v > w || (v == w && i < j); }

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
  sv[threadIdx.x] = best;
  si[threadIdx.x] = best_i;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) {
      const float ov = sv[threadIdx.x + s];
      const int32_t oi = si[threadIdx.x + s];
      if (oi >= 0 && (si[threadIdx.x] < 0 || Before(ov, oi, sv[threadIdx.x], si[threadIdx.x]))) {
        sv[threadIdx.x] = ov;
        si[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  *out_v = sv[0];
  *out_i = si[0];
  __syncthreads();
}

constexpr int kTopkCandidates = 4096;

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
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, x[i]);
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
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    sum += expf(x[i] - row_max);
    if (k > 0 && x[i] >= t) {
      const int c = atomicAdd(&count, 1);
      if (c < kTopkCandidates) {
        cand_v[c] = x[i];
        cand_i[c] = static_cast<int32_t>(i);
      }
    }
  }
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
}
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out, cudaStream_t s) {
  if (rows) RmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, dim, eps, out);
}
void Rotary(float* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq, const int32_t* positions,
            cudaStream_t s) {
  RotaryKernel<<<Blocks(rows * heads * head_dim / 2), kThreads, 0, s>>>(x, rows, heads, head_dim, inv_freq, positions);
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
