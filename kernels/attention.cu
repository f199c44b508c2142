#include "attention.cuh"

#include <functional>

#include <cmath>
#include <tuple>

#include "element.cuh"
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

// A warp per (row, head); each lane holds head_dim/32 output dims (<= 8).
template <typename T>
__global__ void AttentionRowwiseKernel(const T* q, const T* k, const T* v, int64_t rows,
                                const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin,
                                int64_t q_heads, int64_t kv_heads, int64_t head_dim, T* out) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows * q_heads) return;
  const int64_t r = warp / q_heads, h = warp % q_heads, kvh = h / (q_heads / kv_heads);
  const int64_t qs = q_heads * head_dim, kvs = kv_heads * head_dim;
  const int per_lane = static_cast<int>((head_dim + 31) / 32);
  float qv[8], acc[8];
  for (int t = 0; t < per_lane; ++t) {
    const int64_t d = lane + 32 * t;
    qv[t] = d < head_dim ? Load(q + r * qs + h * head_dim + d) : 0.0f;
    acc[t] = 0.0f;
  }
  const float scale = rsqrtf(static_cast<float>(head_dim));
  float m = -INFINITY, l = 0.0f;
  auto visit = [&](int64_t j) {
    float dot = 0.0f;
    for (int t = 0; t < per_lane; ++t) {
      const int64_t d = lane + 32 * t;
      if (d < head_dim) dot += qv[t] * Load(k + j * kvs + kvh * head_dim + d);
    }
    for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float sc = dot * scale;
    const float m_new = fmaxf(m, sc);
    const float correction = expf(m - m_new), p = expf(sc - m_new);
    l = l * correction + p;
    for (int t = 0; t < per_lane; ++t) {
      const int64_t d = lane + 32 * t;
      acc[t] = acc[t] * correction + (d < head_dim ? p * Load(v + j * kvs + kvh * head_dim + d) : 0.0f);
    }
    m = m_new;
  };
  for (int64_t j = seq_begin[r]; j < prefix_end[r]; ++j) visit(j);
  for (int64_t j = branch_begin[r]; j <= r; ++j) visit(j);
  for (int t = 0; t < per_lane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < head_dim) Store(out + r * qs + h * head_dim + d, acc[t] / l);
  }
}


constexpr int kTileQ = 64, kTileK = 32, kAttnThreads = 256;

// Thread t owns query row t / 4 of the tile; its four threads (adjacent
// lanes) split the tile's 32 keys eight each for the scores, and the head
// dimensions d ≡ t (mod 4) for the output. Shared rows are padded to an odd
// stride so that neither the score nor the output loop has bank conflicts.
template <int kDimsPerThread, typename T>
__global__ void __launch_bounds__(kAttnThreads)
    TiledAttentionKernel(const T* q, const T* k, const T* v, const QueryBlock* blocks, const int64_t* seq_begin,
                         const int64_t* prefix_end, const int64_t* branch_begin, int q_heads, int kv_heads,
                         int head_dim, T* out) {
  extern __shared__ float smem[];
  constexpr int ld = 4 * kDimsPerThread + 1, ldp = kTileK + 1;
  float* sq = smem;
  float* sk = sq + kTileQ * ld;
  float* sv = sk + kTileK * ld;
  float* sp = sv + kTileK * ld;
  const int hd = head_dim, h = blockIdx.y, kvh = h / (q_heads / kv_heads);
  const int64_t q0 = blocks[blockIdx.x].begin, q_end = blocks[blockIdx.x].end;  // rows of one sequence
  const int t = threadIdx.x, row = t >> 2, quarter = t & 3;
  const int64_t r = q0 + row;
  const bool valid = r < q_end;
  const int64_t qs = int64_t{q_heads} * hd, kvs = int64_t{kv_heads} * hd;
  const int64_t last = q_end - 1;                    // no row of the tile sees a key past its last row
  const int64_t first = seq_begin[q0];              // nor one before its first row's sequence
  const int64_t sb = valid ? seq_begin[r] : 0, pe = valid ? prefix_end[r] : 0, bb = valid ? branch_begin[r] : 0;
  for (int i = t; i < kTileQ * hd; i += kAttnThreads) {
    const int rr = i / hd, d = i % hd;
    sq[rr * ld + d] = q0 + rr < q_end ? Load(q + (q0 + rr) * qs + int64_t{h} * hd + d) : 0.0f;
  }
  const float scale = rsqrtf(static_cast<float>(hd));
  float m = -INFINITY, l = 0.0f, acc[kDimsPerThread];
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) acc[i] = 0.0f;
  for (int64_t j0 = first; j0 <= last; j0 += kTileK) {
    __syncthreads();  // the previous tile's K, V and P are no longer read
    for (int i = t; i < kTileK * hd; i += kAttnThreads) {
      const int kk = i / hd, d = i % hd;
      const int64_t j = j0 + kk;
      sk[kk * ld + d] = j <= last ? Load(k + j * kvs + int64_t{kvh} * hd + d) : 0.0f;
      sv[kk * ld + d] = j <= last ? Load(v + j * kvs + int64_t{kvh} * hd + d) : 0.0f;
    }
    __syncthreads();
    float s[8];
    float mx = -INFINITY;
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      const int kk = quarter * 8 + c;
      const int64_t j = j0 + kk;
      const bool visible = valid && ((j >= sb && j < pe) || (j >= bb && j <= r));
      float dot = 0.0f;
      if (visible)
        for (int d = 0; d < hd; ++d) dot += sq[row * ld + d] * sk[kk * ld + d];
      s[c] = visible ? dot * scale : -INFINITY;
      mx = fmaxf(mx, s[c]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m, mx);
    // Until a row has seen a key its maximum is -inf: nothing to rescale yet.
    const float alpha = m_new == -INFINITY ? 1.0f : expf(m - m_new);
    float psum = 0.0f;
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      const float p = s[c] == -INFINITY ? 0.0f : expf(s[c] - m_new);
      sp[row * ldp + quarter * 8 + c] = p;
      psum += p;
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    psum += __shfl_xor_sync(0xffffffffu, psum, 2);
    l = l * alpha + psum;
    m = m_new;
    __syncwarp();  // a row's probabilities come from its own warp's four lanes
#pragma unroll
    for (int i = 0; i < kDimsPerThread; ++i) acc[i] *= alpha;
    for (int kk = 0; kk < kTileK; ++kk) {
      const float p = sp[row * ldp + kk];
#pragma unroll
      for (int i = 0; i < kDimsPerThread; ++i) acc[i] += p * sv[kk * ld + quarter + 4 * i];
    }
  }
  if (!valid) return;
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) {
    const int d = quarter + 4 * i;
    if (d < hd) Store(out + r * qs + int64_t{h} * hd + d, acc[i] / l);
  }
}

template <int kDimsPerThread, typename T>
void LaunchTiled(const T* q, const T* k, const T* v, const QueryBlocks& blocks, const int64_t* seq_begin,
                 const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                 int64_t head_dim, T* out, cudaStream_t s) {
  constexpr int ld = 4 * kDimsPerThread + 1;
  constexpr size_t bytes = sizeof(float) * ((kTileQ + 2 * kTileK) * ld + kTileQ * (kTileK + 1));
  static const bool configured = [] {
    return cudaFuncSetAttribute(TiledAttentionKernel<kDimsPerThread, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(bytes)) == cudaSuccess;
  }();
  (void)configured;  // a failure shows as the launch's error
  if (blocks.CountFor(kTileQ) == 0) return;
  const dim3 grid(static_cast<unsigned>(blocks.CountFor(kTileQ)), static_cast<unsigned>(q_heads));
  TiledAttentionKernel<kDimsPerThread, T><<<grid, kAttnThreads, bytes, s>>>(
      q, k, v, blocks.For(kTileQ), seq_begin, prefix_end, branch_begin, static_cast<int>(q_heads), static_cast<int>(kv_heads),
      static_cast<int>(head_dim), out);
  QSWEEP_KERNEL_CHECK();
}

}  // namespace

template <typename T>
void Attention(const T* q, const T* k, const T* v, int64_t rows, const QueryBlocks& blocks, const int64_t* seq_begin,
               const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
               int64_t head_dim, T* out, cudaStream_t s) {
  if (rows == 0) return;
  const auto args = std::make_tuple(q, k, v, std::cref(blocks), seq_begin, prefix_end, branch_begin, q_heads, kv_heads, head_dim,
                                    out, s);
  if (head_dim <= 32) return std::apply(LaunchTiled<8, T>, args);
  if (head_dim <= 64) return std::apply(LaunchTiled<16, T>, args);
  if (head_dim <= 128) return std::apply(LaunchTiled<32, T>, args);
  return std::apply(LaunchTiled<64, T>, args);
}

template <typename T>
void AttentionRowwise(const T* q, const T* k, const T* v, int64_t rows, const int64_t* seq_begin,
                      const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                      int64_t head_dim, T* out, cudaStream_t s) {
  if (rows == 0) return;
  AttentionRowwiseKernel<<<static_cast<unsigned>((rows * q_heads * 32 + 255) / 256), 256, 0, s>>>(
      q, k, v, rows, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, head_dim, out);
  QSWEEP_KERNEL_CHECK();
}

#define QSWEEP_INSTANTIATE(T)                                                                                    \
  template void Attention<T>(const T*, const T*, const T*, int64_t, const QueryBlocks&, const int64_t*,          \
                             const int64_t*,                                                                     \
                             const int64_t*, int64_t, int64_t, int64_t, T*, cudaStream_t);                       \
  template void AttentionRowwise<T>(const T*, const T*, const T*, int64_t, const int64_t*, const int64_t*,       \
                                    const int64_t*, int64_t, int64_t, int64_t, T*, cudaStream_t);
QSWEEP_INSTANTIATE(float)
QSWEEP_INSTANTIATE(__nv_bfloat16)
#undef QSWEEP_INSTANTIATE

}  // namespace qsweep::kernels
