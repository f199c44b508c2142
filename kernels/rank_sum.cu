#include "rank_sum.cuh"

#include <cstdint>
#include <type_traits>
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

using bf16 = __nv_bfloat16;

template <typename T>
struct Buffers {
  const T* p[kMaxTreeRanks];
};

__device__ inline float ToFloat(float x) { return x; }
__device__ inline float ToFloat(bf16 x) { return __bfloat162float(x); }

// Four consecutive elements as fp32 (16 or 8 bytes, aligned).
__device__ inline float4 Load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ inline float4 Load4(const bf16* p) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

// out[j] (+)= the tree sum of in.p[0..COUNT)[j] in fp32. A thread per four
// elements (memory bound), loaded as vectors when `vector` (every pointer
// aligned for it); the additions are the same either way. COUNT is a
// template argument so that only COUNT values live in registers: the
// kernel's occupancy is what keeps enough loads in flight.
template <typename T, int COUNT>
__global__ void __launch_bounds__(256) TreeSumKernel(Buffers<T> in, int64_t n, float* out, bool accumulate,
                                                     bool vector) {
  const int64_t j = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) * 4;
  if (j >= n) return;
  float4 v[COUNT];
  if (vector && j + 4 <= n) {
#pragma unroll
    for (int r = 0; r < COUNT; ++r) v[r] = Load4(in.p[r] + j);
  } else {
#pragma unroll
    for (int r = 0; r < COUNT; ++r) {
      float e[4] = {0, 0, 0, 0};
      for (int i = 0; i < 4 && j + i < n; ++i) e[i] = ToFloat(in.p[r][j + i]);
      v[r] = make_float4(e[0], e[1], e[2], e[3]);
    }
  }
#pragma unroll
  for (int stride = 1; stride < COUNT; stride *= 2)
#pragma unroll
    for (int i = 0; i + stride < COUNT; i += 2 * stride) {
      v[i].x += v[i + stride].x;
      v[i].y += v[i + stride].y;
      v[i].z += v[i + stride].z;
      v[i].w += v[i + stride].w;
    }
  const float sum[4] = {v[0].x, v[0].y, v[0].z, v[0].w};
  if (vector && j + 4 <= n) {
    float4* o = reinterpret_cast<float4*>(out + j);
    const float4 a = accumulate ? *o : make_float4(0, 0, 0, 0);
    *o = accumulate ? make_float4(a.x + sum[0], a.y + sum[1], a.z + sum[2], a.w + sum[3]) : v[0];
    return;
  }
  for (int i = 0; i < 4 && j + i < n; ++i) out[j + i] = accumulate ? out[j + i] + sum[i] : sum[i];
}

template <typename T, int COUNT = kMaxTreeRanks>
void LaunchCount(int count, dim3 grid, const Buffers<T>& b, int64_t n, float* out, bool accumulate, bool vector,
                 cudaStream_t s) {
  if constexpr (COUNT > 1)
    if (count < COUNT) return LaunchCount<T, COUNT - 1>(count, grid, b, n, out, accumulate, vector, s);
  TreeSumKernel<T, COUNT><<<grid, 256, 0, s>>>(b, n, out, accumulate, vector);
  QSWEEP_KERNEL_CHECK();
}

template <typename T>
void Launch(const Buffers<T>& b, int count, int64_t n, float* out, bool accumulate, cudaStream_t s) {
  uintptr_t bits = reinterpret_cast<uintptr_t>(out) & 15;
  for (int i = 0; i < count; ++i) bits |= reinterpret_cast<uintptr_t>(b.p[i]) & (4 * sizeof(T) - 1);
  const int64_t threads = (n + 3) / 4;
  LaunchCount<T>(count, dim3(static_cast<unsigned>((threads + 255) / 256)), b, n, out, accumulate, bits == 0, s);
}

}  // namespace

template <typename T>
void SumBuffersInTreeOrder(const T* const* bufs, int count, int64_t n, float* out, bool accumulate, cudaStream_t s) {
  if (n == 0 || count == 0) return;
  if constexpr (std::is_same_v<T, float>)
    if (count == 1 && out == bufs[0] && !accumulate) return;
  Buffers<T> b{};
  for (int i = 0; i < count; ++i) b.p[i] = bufs[i];
  Launch(b, count, n, out, accumulate, s);
}

template void SumBuffersInTreeOrder<float>(const float* const*, int, int64_t, float*, bool, cudaStream_t);
template void SumBuffersInTreeOrder<bf16>(const bf16* const*, int, int64_t, float*, bool, cudaStream_t);

void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out, cudaStream_t s) {
  if (n == 0) return;
  Buffers<float> b{};
  for (int r = 0; r < ranks; ++r) b.p[r] = all + r * n;
  Launch(b, ranks, n, out, false, s);
}

}  // namespace qsweep::kernels
