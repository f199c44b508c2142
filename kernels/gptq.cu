// GPTQ's column loop (gptq.cuh). One warp per row of W: the rows are
// independent given U, and a row's 128 columns of a block fit a warp's
// registers as 4 slots of 32 (column c of the block in lane c % 32, slot
// c / 32), so each column's value reaches every lane by one shuffle and
// its error updates the later columns of the block in the lanes that hold
// them. Every lane computes the column's code and error itself from the
// same operands (no second shuffle); the lane that owns the column keeps
// them, and the warp writes its codes and errors once per block, coalesced.
// The block's square of U (64 KiB of fp32) sits in shared memory: each
// column reads one of its rows, 32 consecutive words per slot, conflict
// free, and the diagonal as a broadcast. A block of 8 warps shares it.
#include <cstdio>
#include <cstdlib>

#include "gptq.cuh"
#include "launch_check.cuh"
#include "quant_twins.cuh"

namespace qsweep::kernels {
namespace {

constexpr int kSlots = kGptqBlock / 32;
constexpr int kWarpsPerBlock = 8;
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ void WarpStats(float& absmax, float& lo, float& hi) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    absmax = twin::Max(absmax, __shfl_xor_sync(kFull, absmax, o));
    lo = twin::Min(lo, __shfl_xor_sync(kFull, lo, o));
    hi = twin::Max(hi, __shfl_xor_sync(kFull, hi, o));
  }
}

__device__ __forceinline__ void Include(float v, float& absmax, float& lo, float& hi) {
  absmax = twin::Max(absmax, fabsf(v));
  lo = twin::Min(lo, v);
  hi = twin::Max(hi, v);
}

__global__ void GroupGridsKernel(GptqFormat f, const float* __restrict__ w, int64_t out, int64_t in, int64_t begin,
                                 GptqGrids grids) {
  const int lane = threadIdx.x % 32;
  const int64_t r = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= out) return;
  const int64_t end = begin + f.group < in ? begin + f.group : in;
  float absmax = 0, lo = INFINITY, hi = -INFINITY;
  for (int64_t c = begin + lane; c < end; c += 32) Include(w[r * in + c], absmax, lo, hi);
  WarpStats(absmax, lo, hi);
  if (lane != 0) return;
  const twin::IntGrid g = twin::IntGridOf(f.bits, f.asymmetric, absmax, lo, hi);
  const int64_t at = r * grids.groups + begin / f.group;
  grids.scale_bits[at] = g.scale_bits;
  if (f.asymmetric) grids.zeros[at] = static_cast<uint8_t>(g.zero);
}

__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    BlockKernel(GptqFormat f, const float* __restrict__ w, int64_t out, int64_t in, const float* __restrict__ u,
                int64_t begin, GptqGrids grids, uint8_t* __restrict__ codes, float* __restrict__ err) {
  extern __shared__ float u_block[];  // [kGptqBlock][kGptqBlock]
  const int n = static_cast<int>(in - begin < kGptqBlock ? in - begin : kGptqBlock);
  for (int idx = threadIdx.x; idx < kGptqBlock * kGptqBlock; idx += blockDim.x) {
    const int a = idx / kGptqBlock, b = idx % kGptqBlock;
    u_block[idx] = a < n && b < n ? u[(begin + a) * in + begin + b] : 0.0f;
  }
  __syncthreads();
  const int lane = threadIdx.x % 32;
  const int64_t r = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= out) return;
  const float* wr = w + r * in + begin;
  float wv[kSlots], errv[kSlots];
  uint32_t codev[kSlots];
#pragma unroll
  for (int t = 0; t < kSlots; ++t) {
    const int c = t * 32 + lane;
    wv[t] = c < n ? wr[c] : 0.0f;
    errv[t] = 0.0f;
    codev[t] = 0;
  }
  const int64_t g = f.group;
  // Groups smaller than a block that divide it are found here; the others
  // (per channel, static, and groups of a block or more) are in the arrays.
  const bool in_block = !grids.fixed && g > 0 && g < kGptqBlock;
  float scale = 0, zero = 0;
  int64_t current = -1;
#pragma unroll
  for (int s = 0; s < kSlots; ++s) {
    for (int l = 0; l < 32; ++l) {
      const int i = s * 32 + l;
      if (i >= n) break;
      const int64_t col = begin + i;
      if (in_block && col % g == 0) {
        float absmax = 0, lo = INFINITY, hi = -INFINITY;
#pragma unroll
        for (int t = 0; t < kSlots; ++t) {
          const int c = t * 32 + lane;
          if (c >= i && c < i + g && c < n) Include(wv[t], absmax, lo, hi);
        }
        WarpStats(absmax, lo, hi);
        const twin::IntGrid grid = twin::IntGridOf(f.bits, f.asymmetric, absmax, lo, hi);
        scale = grid.scale, zero = grid.zero;
        if (lane == 0) {
          const int64_t at = r * grids.groups + col / g;
          grids.scale_bits[at] = grid.scale_bits;
          if (f.asymmetric) grids.zeros[at] = static_cast<uint8_t>(grid.zero);
        }
      } else if (!in_block) {
        const int64_t gi = g <= 0 ? 0 : grids.group_of ? grids.group_of[col] : col / g;
        if (gi != current) {
          const int64_t at = r * grids.groups + gi;
          scale = twin::F16Value(grids.scale_bits[at]);
          zero = f.asymmetric ? static_cast<float>(grids.zeros[at]) : 0.0f;
          current = gi;
        }
      }
      const float x = __shfl_sync(kFull, wv[s], l);
      const uint32_t code = twin::IntCode(f.bits, f.asymmetric, scale, zero, x);
      const float e =
          __fdiv_rn(__fsub_rn(x, twin::IntCodeValue(f.bits, f.asymmetric, scale, zero, code)), u_block[i * kGptqBlock + i]);
      if (lane == l) errv[s] = e, codev[s] = code;
      const float* ui = u_block + i * kGptqBlock;
#pragma unroll
      for (int t = s; t < kSlots; ++t) {
        const int c = t * 32 + lane;
        if (c > i) wv[t] = __fmaf_rn(-e, ui[c], wv[t]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kSlots; ++t) {
    const int c = t * 32 + lane;
    if (c < n) codes[r * in + begin + c] = static_cast<uint8_t>(codev[t]);
    err[r * kGptqBlock + c] = errv[t];
  }
}

unsigned Blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

void GptqGroupGrids(const GptqFormat& f, const float* w, int64_t out, int64_t in, int64_t begin,
                    const GptqGrids& grids, cudaStream_t stream) {
  if (out <= 0) return;
  GroupGridsKernel<<<Blocks(out), 32 * kWarpsPerBlock, 0, stream>>>(f, w, out, in, begin, grids);
  QSWEEP_KERNEL_CHECK();
}

void GptqBlock(const GptqFormat& f, const float* w, int64_t out, int64_t in, const float* u, int64_t begin,
               const GptqGrids& grids, uint8_t* codes, float* err, cudaStream_t stream) {
  if (out <= 0) return;
  constexpr size_t kSmem = sizeof(float) * kGptqBlock * kGptqBlock;
  static const bool configured =
      cudaFuncSetAttribute(BlockKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem) == cudaSuccess;
  if (!configured) {
    std::fprintf(stderr, "qsweep: GPTQ's block kernel cannot have %zu bytes of shared memory on this device\n", kSmem);
    std::abort();
  }
  BlockKernel<<<Blocks(out), 32 * kWarpsPerBlock, kSmem, stream>>>(f, w, out, in, u, begin, grids, codes, err);
  QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
