#include "kv_cache.cuh"

#include <cmath>
#include <tuple>

#include "dependent_launch.cuh"
#include "element.cuh"
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

template <typename T>
__global__ void WriteCacheRowsKernel(const T* x, int64_t rows, int64_t cols, const int64_t* cache_row, T* cache) {
  const int64_t r = blockIdx.y;
  const int64_t dst = cache_row[r];
  if (dst < 0) return;
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < cols; c += int64_t{gridDim.x} * blockDim.x)
    cache[dst * cols + c] = x[r * cols + c];
}

constexpr int kWarps = 8, kMaxDimsPerLane = 8;
constexpr int kSplitKeys = 128, kSplitWarps = kSplitKeys / 32, kMaxGroup = 8;

// kN consecutive elements of T as floats, in one load of their size (p is
// aligned to it: head offsets are multiples of the head dim, a multiple of kN).
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Run {
  T v[kN];
};
template <int kN, typename T>
__device__ inline void LoadRun(const T* p, float* out) {
  const Run<T, kN> r = *reinterpret_cast<const Run<T, kN>*>(p);
#pragma unroll
  for (int i = 0; i < kN; ++i) out[i] = Load(&r.v[i]);
}

// One split of one row's keys for the query heads of kv head blockIdx.y.
// partial: per (row, query head, split) hd weighted values, then (max, sum)
// at [rows, q_heads, splits, hd + 2].
template <typename T, int kDims>
__global__ void __launch_bounds__(kSplitWarps * 32)
    SplitKernel(const T* q, const T* k, const T* v, const int64_t* key_begin, const int64_t* key_last, int q_heads,
                int kv_heads, int head_dim, int splits, float* partial) {
  constexpr int kPer16 = 16 / sizeof(T);
  __shared__ float sq[kMaxGroup][256];
  __shared__ float sm[kSplitWarps][kMaxGroup], sl[kSplitWarps][kMaxGroup];
  __shared__ float sacc[kSplitWarps][256];
  const int64_t r = blockIdx.x;
  const int kvh = blockIdx.y, split = blockIdx.z, hd = head_dim, group = q_heads / kv_heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t begin = key_begin[r], end = key_last[r] + 1;
  const int64_t s0 = begin + int64_t{split} * kSplitKeys;
  if (s0 >= end) return;  // past this row's keys: the combine reads only its own splits
  const int64_t qs = int64_t{q_heads} * hd, kvs = int64_t{kv_heads} * hd;
  const float scale = rsqrtf(static_cast<float>(hd));
  for (int i = threadIdx.x; i < group * hd; i += blockDim.x)
    sq[i / hd][i % hd] = Load(q + r * qs + int64_t{kvh * group + i / hd} * hd + i % hd) * scale;
  __syncthreads();
  const int64_t j0 = s0 + warp * 32, j = j0 + lane;
  const int64_t split_end = end < s0 + kSplitKeys ? end : s0 + kSplitKeys;
  float s[kMaxGroup];
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) s[g] = -INFINITY;
  if (j < split_end) {
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) s[g] = 0.0f;
    const T* kj = k + j * kvs + int64_t{kvh} * hd;
#pragma unroll
    for (int d = 0; d < 32 * kDims; d += kPer16) {
      if (d >= hd) break;
      float kf[kPer16];
      LoadRun<kPer16>(kj + d, kf);
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g)
        if (g < group)
#pragma unroll
          for (int e = 0; e < kPer16; ++e) s[g] += sq[g][d + e] * kf[e];
    }
  }
  // Per head: the warp's maximum and weights; a warp without keys keeps
  // m = -inf and adds nothing.
  const int n = j0 >= split_end ? 0 : split_end - j0 < 32 ? static_cast<int>(split_end - j0) : 32;
  float p[kMaxGroup], acc[kMaxGroup][kDims];
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    float mx = s[g];
    for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    p[g] = s[g] == -INFINITY ? 0.0f : expf(s[g] - mx);
    float l = p[g];
    for (int off = 16; off > 0; off /= 2) l += __shfl_xor_sync(0xffffffffu, l, off);
    if (lane == 0 && g < group) {
      sm[warp][g] = mx;
      sl[warp][g] = l;
    }
#pragma unroll
    for (int i = 0; i < kDims; ++i) acc[g][i] = 0.0f;
  }
  // V: a lane owns kDims consecutive dims, so a key's row is one load per
  // lane. The warp's 32 keys go in steps of 8 whose loads are all issued
  // before their FMAs: with a loop over the key count the loads of
  // successive keys waited on each other, a DRAM latency per key. Keys
  // past n weigh 0 (their lanes' p) and read key j0 again.
  const bool owns = lane * kDims < hd;
  const T* v_lane = v + int64_t{kvh} * hd + lane * kDims;
#pragma unroll
  for (int c0 = 0; c0 < 32; c0 += 8) {
    if (c0 >= n) break;
    float vv[8][kDims];
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      if (owns) {
        LoadRun<kDims>(v_lane + (j0 + (c0 + c < n ? c0 + c : 0)) * kvs, vv[c]);
      } else {
#pragma unroll
        for (int i = 0; i < kDims; ++i) vv[c][i] = 0.0f;
      }
    }
#pragma unroll
    for (int c = 0; c < 8; ++c)
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        if (g >= group) break;
        const float pc = __shfl_sync(0xffffffffu, p[g], c0 + c);
#pragma unroll
        for (int i = 0; i < kDims; ++i) acc[g][i] += pc * vv[c][i];
      }
  }
  __syncthreads();
  // The block's four warps, one head at a time, in warp order.
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    if (g >= group) break;  // a constant index keeps acc in registers
    if (owns)
#pragma unroll
      for (int i = 0; i < kDims; ++i) sacc[warp][lane * kDims + i] = acc[g][i];
    __syncthreads();
    float mm = -INFINITY;
    for (int w = 0; w < kSplitWarps; ++w) mm = fmaxf(mm, sm[w][g]);
    float* dst = partial + ((r * q_heads + kvh * group + g) * splits + split) * (hd + 2);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
      float num = 0.0f;
      for (int w = 0; w < kSplitWarps; ++w)
        if (sm[w][g] != -INFINITY) num += sacc[w][d] * expf(sm[w][g] - mm);
      dst[d] = num;
    }
    if (threadIdx.x == 0) {
      float den = 0.0f;
      for (int w = 0; w < kSplitWarps; ++w)
        if (sm[w][g] != -INFINITY) den += sl[w][g] * expf(sm[w][g] - mm);
      dst[hd] = mm;
      dst[hd + 1] = den;
    }
    __syncthreads();
  }
}

// out[r, h] from the splits of (r, h), in split order.
template <typename T>
__global__ void CombineSplitsKernel(const float* partial, const int64_t* key_begin, const int64_t* key_last,
                                    int q_heads, int head_dim, int splits, T* out) {
  pdl::AllowDependents();  // the output projection streams its weights meanwhile
  const int64_t r = blockIdx.x;
  const int h = blockIdx.y, hd = head_dim;
  const int n = static_cast<int>((key_last[r] - key_begin[r]) / kSplitKeys + 1);
  const float* src = partial + (r * q_heads + h) * int64_t{splits} * (hd + 2);
  float mm = -INFINITY;
  for (int s = 0; s < n; ++s) mm = fmaxf(mm, src[s * (hd + 2) + hd]);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < n; ++s) {
      const float c = expf(src[s * (hd + 2) + hd] - mm);
      num += src[s * (hd + 2) + d] * c;
      den += src[s * (hd + 2) + hd + 1] * c;
    }
    Store(out + (r * q_heads + h) * int64_t{hd} + d, num / den);
  }
}

template <typename T, int kDims>
void LaunchSplit(const T* q, const T* k, const T* v, int64_t rows, const int64_t* key_begin, const int64_t* key_last,
                 int64_t q_heads, int64_t kv_heads, int64_t head_dim, int splits, float* partial, T* out,
                 cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(kv_heads), static_cast<unsigned>(splits));
  SplitKernel<T, kDims><<<grid, kSplitWarps * 32, 0, s>>>(q, k, v, key_begin, key_last, static_cast<int>(q_heads),
                                                         static_cast<int>(kv_heads), static_cast<int>(head_dim),
                                                         splits, partial);
  QSWEEP_KERNEL_CHECK();
  CombineSplitsKernel<<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(q_heads)), 128, 0, s>>>(
      partial, key_begin, key_last, static_cast<int>(q_heads), static_cast<int>(head_dim), splits, out);
  QSWEEP_KERNEL_CHECK();
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    CachedAttentionKernel(const T* q, const T* k, const T* v, const int64_t* key_begin, const int64_t* key_last,
                          int q_heads, int kv_heads, int head_dim, T* out) {
  pdl::AllowDependents();
  __shared__ float sq[256];
  __shared__ float sacc[kWarps][256];
  __shared__ float sm[kWarps], sl[kWarps];
  const int64_t r = blockIdx.x;
  const int h = blockIdx.y, kvh = h / (q_heads / kv_heads), hd = head_dim;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t qs = int64_t{q_heads} * hd, kvs = int64_t{kv_heads} * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) sq[d] = Load(q + r * qs + int64_t{h} * hd + d);
  __syncthreads();
  const float scale = rsqrtf(static_cast<float>(hd));
  const int64_t begin = key_begin[r], end = key_last[r] + 1;
  const T* kh = k + int64_t{kvh} * hd;
  const T* vh = v + int64_t{kvh} * hd;
  float m = -INFINITY, l = 0.0f, acc[kMaxDimsPerLane];
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) acc[i] = 0.0f;
  for (int64_t j0 = begin + warp * 32; j0 < end; j0 += kWarps * 32) {
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (j < end) {
      const T* kj = kh + j * kvs;
      float dot = 0.0f;
#pragma unroll 8
      for (int d = 0; d < hd; ++d) dot += sq[d] * Load(kj + d);
      s = dot * scale;
    }
    float mx = s;
    for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    // Lane 0's key is always in range (j0 < end), so mx is a number.
    const float m_new = fmaxf(m, mx);
    const float alpha = m == -INFINITY ? 0.0f : expf(m - m_new);
    const float p = j < end ? expf(s - m_new) : 0.0f;
    float psum = p;
    for (int off = 16; off > 0; off /= 2) psum += __shfl_xor_sync(0xffffffffu, psum, off);
    l = l * alpha + psum;
    m = m_new;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) acc[i] *= alpha;
    const int n = end - j0 < 32 ? static_cast<int>(end - j0) : 32;
    for (int c = 0; c < n; ++c) {
      const float pc = __shfl_sync(0xffffffffu, p, c);
      const T* vj = vh + (j0 + c) * kvs;
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < hd) acc[i] += pc * Load(vj + d);
      }
    }
  }
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) sacc[warp][d] = acc[i];
  }
  __syncthreads();
  // Warps that saw no key hold m = -inf and add nothing.
  float mm = -INFINITY;
  for (int w = 0; w < kWarps; ++w) mm = fmaxf(mm, sm[w]);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      if (sm[w] == -INFINITY) continue;
      const float c = expf(sm[w] - mm);
      num += sacc[w][d] * c;
      den += sl[w] * c;
    }
    Store(out + r * qs + int64_t{h} * hd + d, num / den);
  }
}

}  // namespace

template <typename T>
void WriteCacheRows(const T* x, int64_t rows, int64_t cols, const int64_t* cache_row, T* cache, cudaStream_t s) {
  if (rows == 0) return;
  const dim3 grid(static_cast<unsigned>((cols + 255) / 256), static_cast<unsigned>(rows));
  WriteCacheRowsKernel<<<grid, 256, 0, s>>>(x, rows, cols, cache_row, cache);
  QSWEEP_KERNEL_CHECK();
}

int64_t CachedAttentionPartialFloats(int64_t rows, int64_t q_heads, int64_t head_dim, int64_t max_keys) {
  return rows * q_heads * ((max_keys + kSplitKeys - 1) / kSplitKeys) * (head_dim + 2);
}

template <typename T>
void CachedAttention(const T* q, const T* k, const T* v, int64_t rows, const int64_t* key_begin,
                     const int64_t* key_last, int64_t q_heads, int64_t kv_heads, int64_t head_dim, int64_t max_keys,
                     float* partial, T* out, cudaStream_t s) {
  if (rows == 0) return;
  const int splits = static_cast<int>((max_keys + kSplitKeys - 1) / kSplitKeys);
  constexpr int kPer16 = 16 / sizeof(T);
  const int dims_per_lane = head_dim <= 32 ? 1 : head_dim <= 64 ? 2 : head_dim <= 128 ? 4 : 8;
  if (head_dim % kPer16 || head_dim % dims_per_lane || q_heads / kv_heads > kMaxGroup || splits > 65535)
    return CachedAttentionPerHead(q, k, v, rows, key_begin, key_last, q_heads, kv_heads, head_dim, out, s);
  const auto args = std::make_tuple(q, k, v, rows, key_begin, key_last, q_heads, kv_heads, head_dim, splits, partial,
                                    out, s);
  switch (dims_per_lane) {
    case 1: return std::apply(LaunchSplit<T, 1>, args);
    case 2: return std::apply(LaunchSplit<T, 2>, args);
    case 4: return std::apply(LaunchSplit<T, 4>, args);
    default: return std::apply(LaunchSplit<T, 8>, args);
  }
}

template <typename T>
void CachedAttentionPerHead(const T* q, const T* k, const T* v, int64_t rows, const int64_t* key_begin,
                            const int64_t* key_last, int64_t q_heads, int64_t kv_heads, int64_t head_dim, T* out,
                            cudaStream_t s) {
  if (rows == 0) return;
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(q_heads));
  CachedAttentionKernel<<<grid, kWarps * 32, 0, s>>>(q, k, v, key_begin, key_last, static_cast<int>(q_heads),
                                                     static_cast<int>(kv_heads), static_cast<int>(head_dim), out);
  QSWEEP_KERNEL_CHECK();
}

#define QSWEEP_INSTANTIATE(T)                                                                                \
  template void WriteCacheRows<T>(const T*, int64_t, int64_t, const int64_t*, T*, cudaStream_t);             \
  template void CachedAttention<T>(const T*, const T*, const T*, int64_t, const int64_t*, const int64_t*,    \
                                   int64_t, int64_t, int64_t, int64_t, float*, T*, cudaStream_t);               \
  template void CachedAttentionPerHead<T>(const T*, const T*, const T*, int64_t, const int64_t*, const int64_t*, \
                                          int64_t, int64_t, int64_t, T*, cudaStream_t);
QSWEEP_INSTANTIATE(float)
QSWEEP_INSTANTIATE(__nv_bfloat16)
#undef QSWEEP_INSTANTIATE

}  // namespace qsweep::kernels
