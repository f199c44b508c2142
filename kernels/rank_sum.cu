#include "rank_sum.cuh"

namespace qsweep::kernels {
namespace {

__global__ void SumRanksKernel(const float* all, int ranks, int64_t n, float* out) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (j >= n) return;
  float v[kMaxTreeRanks];
#pragma unroll
  for (int r = 0; r < kMaxTreeRanks; ++r) v[r] = r < ranks ? all[r * n + j] : 0.0f;
#pragma unroll
  for (int stride = 1; stride < kMaxTreeRanks; stride *= 2)
#pragma unroll
    for (int i = 0; i + stride < kMaxTreeRanks; i += 2 * stride)
      if (i + stride < ranks) v[i] += v[i + stride];
  out[j] = v[0];
}

struct Buffers {
  float* p[kMaxTreeRanks];
};

__global__ void SumBuffersKernel(Buffers b, int count, int64_t n) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (j >= n) return;
  float v[kMaxTreeRanks];
#pragma unroll
  for (int r = 0; r < kMaxTreeRanks; ++r) v[r] = r < count ? b.p[r][j] : 0.0f;
#pragma unroll
  for (int stride = 1; stride < kMaxTreeRanks; stride *= 2)
#pragma unroll
    for (int i = 0; i + stride < kMaxTreeRanks; i += 2 * stride)
      if (i + stride < count) v[i] += v[i + stride];
  b.p[0][j] = v[0];
}

}  // namespace

void SumBuffersInTreeOrder(float* const* bufs, int count, int64_t n, cudaStream_t s) {
  if (n == 0 || count < 2) return;
  Buffers b{};
  for (int i = 0; i < count; ++i) b.p[i] = bufs[i];
  constexpr int kThreads = 256;
  SumBuffersKernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(b, count, n);
}

void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out, cudaStream_t s) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  SumRanksKernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(all, ranks, n, out);
}

}  // namespace qsweep::kernels
