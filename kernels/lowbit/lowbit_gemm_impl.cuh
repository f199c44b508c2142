// The kernel template of the low-bit family and its launchers; included by
// each format's translation unit, which instantiates it for its functors.
//
// gemm: a warp owns 16 output rows (one tensor-core A tile high) over one
// slice of the input dimension; a block's 4 warps own 64 adjacent rows and
// share their activations through shared memory. Per 256 inputs a lane
// issues b 16-byte loads of codes (the warp reads 512·b consecutive bytes,
// marked evict-first: each weight is used once per call) and reads its
// activations as two 16-byte shared loads per 64 inputs and 8 rows, already
// in fragment order (mma_tiled_weights.h permutes the inputs for that).
// Codes become bf16 operand pairs in registers (two per bf16x2 instruction
// on the pair path, else fp32 values rounded in pairs); mma.sync m16n8k16
// accumulates in fp32 with the activations' rows as the 8 columns of
// operand B (a single row uses 1/8 of each MMA; the tensor cores are far
// from the limit).
// What bounds it, measured on H200 (bench gemm --formats): not the bytes.
// 1- to 8-bit codes take about the same time per weight, some 12 weights
// per SM clock, a third of HBM's rate at 4 bits: the instructions per
// weight (dequantization, plus each chunk's scale loads and 64-bit address
// arithmetic) and their latency at the 3-4 blocks an SM holds at 120-160
// registers. Fewer instructions per weight (Marlin's lop3 pairs for every
// width, scales once per group) is the next step, not more bytes in flight.
//
// Batch invariance: a row of x meets the same instructions in the same
// order whatever the other rows are: its 8-row tile's MMAs see only its own
// column of B, the input dimension is cut into slices by the weight's shape
// alone (LowbitSplitFor), and the last block to finish sums the slices in
// slice order. A row's result therefore does not depend on the row count or
// on its position in the batch (tested).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>

#include "attention_common.cuh"
#include "launch_check.cuh"
#include "lowbit/dequant_formats.cuh"
#include "lowbit/lowbit_gemm.cuh"

namespace qsweep::kernels::lowbit {

constexpr int kWarps = 4, kThreads = 32 * kWarps, kRowsPerBlock = 16 * kWarps;

// The layout of a lane's codes (mma_tiled_weights.h): code 2p + h in half h
// of the words, at stream bit p·B. Indices are compile-time constants after
// unrolling, so each access is a shift and a mask (two where a code
// straddles two words).
template <int B>
__device__ __forceinline__ uint32_t Code(const uint32_t* w, int i) {
  const int half = i & 1, bit = (i >> 1) * B, word = bit >> 4, shift = bit & 15;
  const uint32_t low = w[word] >> (shift + 16 * half);
  if (shift + B <= 16) return low & ((1u << B) - 1);
  const int width = 16 - shift;
  return (low & ((1u << width) - 1)) | (((w[word + 1] >> (16 * half)) & ((1u << (B - width)) - 1)) << width);
}

// Codes 2p and 2p + 1 in the low and high halves of one register, each
// ORed with 0x4300 (bf16 128.0, whose ulp is 1): the bf16 pair
// (128 + c0, 128 + c1). Shifting the whole word keeps the halves apart:
// what crosses from one half into the other lands on bits the masks drop.
template <int B>
__device__ __forceinline__ uint32_t MagicPair(const uint32_t* w, int p) {
  constexpr uint32_t kMask = (1u << B) - 1;
  const int bit = p * B, word = bit >> 4, shift = bit & 15;
  if (shift + B <= 16) return ((w[word] >> shift) & (kMask * 0x10001u)) | 0x43004300u;
  const uint32_t m1 = (1u << (16 - shift)) - 1, m2 = kMask & ~m1;
  return ((w[word] >> shift) & (m1 * 0x10001u)) | ((w[word + 1] << (16 - shift)) & (m2 * 0x10001u)) | 0x43004300u;
}

// A lane's codes of one chunk: B 16-byte loads, each of which the warp
// makes as 512 consecutive bytes. Evict-first (ld.global.cs): every weight
// is read once per product.
template <int B>
__device__ __forceinline__ void LoadCodes(const uint4* p, uint32_t (&cw)[4 * B]) {
#pragma unroll
  for (int q = 0; q < B; ++q) {
    const uint4 v = __ldcs(p + q * 32);
    cw[4 * q] = v.x, cw[4 * q + 1] = v.y, cw[4 * q + 2] = v.z, cw[4 * q + 3] = v.w;
  }
}

__device__ __forceinline__ int64_t GroupOf(const LowbitWeights& w, int64_t k) {
  return w.group_shift < 0 ? 0 : k >> w.group_shift;
}

using attn::PackBf16;

__device__ __forceinline__ void Mma(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                    uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void StoreOut(LowbitOut mode, void* y, int64_t i, float v) {
  switch (mode) {
    case LowbitOut::kBf16: static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v); break;
    case LowbitOut::kF32: static_cast<float*>(y)[i] = v; break;
    case LowbitOut::kAddF32: static_cast<float*>(y)[i] += v; break;
  }
}

template <class F>
__device__ __forceinline__ void FillTable(const LowbitWeights& w, float* table) {
  if constexpr (F::kTable) {
    if (threadIdx.x < 16) table[threadIdx.x] = w.table[threadIdx.x];
    __syncthreads();
  }
}

// The group parameters of a lane's two rows for the 4 blocks of 64 inputs
// of chunk c.
// Blocks of one group (groups of 128 and more, or one per row) reuse the
// previous block's parameters instead of loading and converting them again.
template <class F, class P>
__device__ __forceinline__ void LoadParams(const LowbitWeights& w, int64_t r0, int64_t c, int tig, P (&g)[4][2]) {
  int64_t previous = -1;
#pragma unroll
  for (int bi = 0; bi < 4; ++bi) {
    const int64_t group = GroupOf(w, c * 256 + bi * 64 + tig * 16);
    if (bi > 0 && group == previous) {
      g[bi][0] = g[bi - 1][0];
      g[bi][1] = g[bi - 1][1];
      continue;
    }
    previous = group;
    if constexpr (F::kPairs) {
      g[bi][0] = F::LoadPair(w, r0, group);
      g[bi][1] = F::LoadPair(w, r0 + 8, group);
    } else {
      g[bi][0] = F::Load(w, r0, group);
      g[bi][1] = F::Load(w, r0 + 8, group);
    }
  }
}

// MT tiles of 8 rows per block (grid z walks the rest). The block's rows of
// x for one chunk (8·MT x 256 inputs) are copied to shared memory with
// cp.async, double-buffered, while the previous chunk computes; a lane's
// next codes and scales are in registers one chunk ahead. Nothing a warp
// waits for is then issued less than a chunk before it is needed.
template <class F, int MT>
__global__ void __launch_bounds__(kThreads) GemmKernel(LowbitWeights w, const __nv_bfloat16* __restrict__ x,
                                                       int64_t rows, int64_t ldx, void* y, int64_t ldy,
                                                       LowbitOut mode, int64_t chunks_per_slice, int slices,
                                                       float* partials, int* counters) {
  constexpr int B = F::kBits, kRows = 8 * MT;
  // Rows padded by 16 bytes: a quarter-warp's 16-byte reads (rows gid,
  // gid + 1 at 4 column offsets) then fall in distinct banks.
  constexpr int kPitch = 256 + 8;
  __shared__ __align__(16) __nv_bfloat16 xs[2][kRows][kPitch];
  __shared__ float table[16];
  FillTable<F>(w, table);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const int64_t row_tiles = w.out_padded / 16, chunks = w.in_padded / 256;
  const int64_t nt = int64_t{blockIdx.x} * kWarps + warp, m0 = int64_t{blockIdx.z} * kRows;
  const int slice = blockIdx.y;
  const int64_t c_begin = slice * chunks_per_slice, c_end = std::min(chunks, c_begin + chunks_per_slice);
  const bool active = nt < row_tiles;
  const int64_t r0 = nt * 16 + gid;
  const uint4* codes = reinterpret_cast<const uint4*>(w.codes) + nt * chunks * B * 32 + lane;
  auto stage = [&](int64_t c, int buf) {
    for (int p = threadIdx.x; p < kRows * 32; p += kThreads) {
      const int r = p / 32, piece = p % 32;
      const int64_t m = m0 + r, k = c * 256 + piece * 8;
      const bool valid = m < rows && k < w.in;  // in is a multiple of 8
      attn::CopyAsync16(&xs[buf][r][piece * 8], valid ? x + m * ldx + k : x, valid);
    }
    attn::CommitAsync();
  };
  float acc[MT][4] = {};
  uint32_t cw[4 * B], next[4 * B];
  using Params = std::conditional_t<F::kPairs, PairParams, GroupParams>;
  Params params[4][2], next_params[4][2];
  if (c_begin < c_end) {
    stage(c_begin, 0);
    if (active) {
      LoadCodes<B>(codes + c_begin * B * 32, cw);
      LoadParams<F>(w, r0, c_begin, tig, params);
    }
  }
  for (int64_t c = c_begin; c < c_end; ++c) {
    const int buf = static_cast<int>((c - c_begin) & 1);
    const bool more = c + 1 < c_end;
    if (more) {
      stage(c + 1, buf ^ 1);
      if (active) {
        LoadCodes<B>(codes + (c + 1) * B * 32, next);
        LoadParams<F>(w, r0, c + 1, tig, next_params);
      }
      attn::WaitAsync<1>();
    } else {
      attn::WaitAsync<0>();
    }
    __syncthreads();
    if (active) {
#pragma unroll
      for (int bi = 0; bi < 4; ++bi) {
        uint32_t xb[MT][8];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          const uint4* src = reinterpret_cast<const uint4*>(&xs[buf][mt * 8 + gid][bi * 64 + tig * 16]);
          const uint4 lo = src[0], hi = src[1];
          xb[mt][0] = lo.x, xb[mt][1] = lo.y, xb[mt][2] = lo.z, xb[mt][3] = lo.w;
          xb[mt][4] = hi.x, xb[mt][5] = hi.y, xb[mt][6] = hi.z, xb[mt][7] = hi.w;
        }
#pragma unroll
        for (int tt = 0; tt < 4; ++tt) {
          const int t = bi * 4 + tt;
          uint32_t a[4];  // (e0, e1), (e2, e3), (e4, e5), (e6, e7): rows gid, gid + 8, gid, gid + 8
          if constexpr (F::kPairs) {
#pragma unroll
            for (int r = 0; r < 4; ++r) a[r] = F::ValuePair(MagicPair<B>(cw, 4 * t + r), params[bi][r & 1]);
          } else {
#pragma unroll
            for (int r = 0; r < 4; ++r)
              a[r] = PackBf16(F::Value(Code<B>(cw, 8 * t + 2 * r), params[bi][r & 1], table),
                              F::Value(Code<B>(cw, 8 * t + 2 * r + 1), params[bi][r & 1], table));
          }
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) Mma(acc[mt], a[0], a[1], a[2], a[3], xb[mt][2 * tt], xb[mt][2 * tt + 1]);
        }
      }
    }
    __syncthreads();  // every warp is done with xs[buf] before it is refilled
    if (more) {
#pragma unroll
      for (int i = 0; i < 4 * B; ++i) cw[i] = next[i];
#pragma unroll
      for (int bi = 0; bi < 4; ++bi) params[bi][0] = next_params[bi][0], params[bi][1] = next_params[bi][1];
    }
  }
  // acc[mt][i]: output row (of W) r0 + 8·(i / 2), row of x m0 + 8·mt + 2·tig + i % 2.
  if (slices == 1) {
    if (!active) return;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t n = nt * 16 + gid + 8 * (i / 2), m = m0 + mt * 8 + 2 * tig + i % 2;
        if (n < w.out && m < rows) StoreOut(mode, y, m * ldy + n, acc[mt][i]);
      }
    return;
  }
  if (active) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t n = nt * 16 + gid + 8 * (i / 2), m = m0 + mt * 8 + 2 * tig + i % 2;
        if (m < rows) __stcg(partials + (slice * rows + m) * w.out_padded + n, acc[mt][i]);
      }
  }
  // The last slice of this block's rows to finish sums all slices in slice
  // order (a fixed order whoever finishes last), then rearms the counter.
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  if (threadIdx.x == 0) {
    int* counter = counters + int64_t{blockIdx.z} * gridDim.x + blockIdx.x;
    last = atomicAdd(counter, 1) == slices - 1;
    if (last) *counter = 0;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  const int64_t n0 = int64_t{blockIdx.x} * kRowsPerBlock;
  for (int idx = threadIdx.x; idx < 8 * MT * kRowsPerBlock; idx += kThreads) {
    const int64_t m = m0 + idx / kRowsPerBlock, n = n0 + idx % kRowsPerBlock;
    if (m >= rows || n >= w.out) continue;
    float s = 0;
    for (int sl = 0; sl < slices; ++sl) s += __ldcg(partials + (sl * rows + m) * w.out_padded + n);
    StoreOut(mode, y, m * ldy + n, s);
  }
}

// One thread per lane-chunk (a lane's 128 codes of a 16-row tile and 256
// inputs): the same codes and functor as the gemm, written out as bf16.
template <class F>
__global__ void __launch_bounds__(kThreads) DequantizeKernel(LowbitWeights w, __nv_bfloat16* __restrict__ out) {
  constexpr int B = F::kBits;
  __shared__ float table[16];
  FillTable<F>(w, table);
  const int64_t id = int64_t{blockIdx.x} * kThreads + threadIdx.x, chunks = w.in_padded / 256;
  const int lane = static_cast<int>(id % 32), gid = lane / 4, tig = lane % 4;
  const int64_t tile_chunk = id / 32;
  if (tile_chunk >= w.out_padded / 16 * chunks) return;
  const int64_t nt = tile_chunk / chunks, c = tile_chunk % chunks, r0 = nt * 16 + gid;
  const uint4* codes = reinterpret_cast<const uint4*>(w.codes) + tile_chunk * B * 32 + lane;
  uint32_t cw[4 * B];
  LoadCodes<B>(codes, cw);
#pragma unroll
  for (int bi = 0; bi < 4; ++bi) {
    const int64_t k = c * 256 + bi * 64 + tig * 16, group = GroupOf(w, k);
    if (k >= w.in) break;
    const GroupParams g[2] = {F::Load(w, r0, group), F::Load(w, r0 + 8, group)};
    float v[2][16];
#pragma unroll
    for (int tt = 0; tt < 4; ++tt)
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const int h = (e >> 1) & 1, j = (e & 1) + 2 * (e >> 2);
        v[h][4 * tt + j] = F::Value(Code<B>(cw, (bi * 4 + tt) * 8 + e), g[h], table);
      }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t r = r0 + 8 * h;
      if (r >= w.out) continue;
      __nv_bfloat16* dst = out + r * w.in + k;
      if (k + 16 <= w.in && w.in % 8 == 0) {
        uint4 lo, hi;
        lo.x = PackBf16(v[h][0], v[h][1]), lo.y = PackBf16(v[h][2], v[h][3]);
        lo.z = PackBf16(v[h][4], v[h][5]), lo.w = PackBf16(v[h][6], v[h][7]);
        hi.x = PackBf16(v[h][8], v[h][9]), hi.y = PackBf16(v[h][10], v[h][11]);
        hi.z = PackBf16(v[h][12], v[h][13]), hi.w = PackBf16(v[h][14], v[h][15]);
        reinterpret_cast<uint4*>(dst)[0] = lo;
        reinterpret_cast<uint4*>(dst)[1] = hi;
      } else {
        for (int i = 0; i < 16 && k + i < w.in; ++i) dst[i] = __float2bfloat16_rn(v[h][i]);
      }
    }
  }
}

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The workspace: counters for every (block, 8-row tile) first, in a region
// of one size for every layer, then the partial sums [slices][rows]
// [out_padded]. The counters must stay zeroed between products, and layers
// of every shape share the workspace: were the partials to start after a
// region sized by the layer's own outputs, a narrow layer's partials would
// overwrite a wide layer's counters.
inline constexpr int64_t kCounterRegionBytes = int64_t{1} << 20;
inline int64_t CounterBytes(int64_t out_padded) {
  return CeilDiv(CeilDiv(out_padded / 16, kWarps) * CeilDiv(kLowbitMaxRows, 8) * 4, 256) * 256;
}

template <class F, int MT>
void LaunchGemm(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
                LowbitOut mode, void* workspace, int sms, cudaStream_t stream) {
  const LowbitSplit s = LowbitSplitFor(w.out_padded, w.in_padded, sms);
  if (CounterBytes(w.out_padded) > kCounterRegionBytes) {  // 2^21 outputs and more: no layer of any model here
    std::fprintf(stderr, "qsweep: a low-bit layer of %lld outputs exceeds the gemm's counter region\n",
                 static_cast<long long>(w.out_padded));
    std::abort();
  }
  auto* counters = static_cast<int*>(workspace);
  auto* partials = reinterpret_cast<float*>(static_cast<char*>(workspace) + kCounterRegionBytes);
  const dim3 grid(static_cast<unsigned>(CeilDiv(w.out_padded / 16, kWarps)), static_cast<unsigned>(s.slices),
                  static_cast<unsigned>(CeilDiv(rows, 8 * MT)));
  GemmKernel<F, MT><<<grid, kThreads, 0, stream>>>(w, x, rows, ldx, y, ldy, mode, s.chunks_per_slice, s.slices,
                                                   partials, counters);
  QSWEEP_KERNEL_CHECK();
}

// Rows in tiles of 8, 16 or 32 per block: more rows share each dequantized
// weight, fewer registers below 9 rows. The choice changes which rows share
// a block, never a row's arithmetic.
template <class F>
void Gemm(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
          LowbitOut mode, void* workspace, int sms, cudaStream_t stream) {
  if (rows <= 0) return;
  if (rows <= 8) return LaunchGemm<F, 1>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  if (rows <= 16) return LaunchGemm<F, 2>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  LaunchGemm<F, 4>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
}

template <class F>
void Dequantize(const LowbitWeights& w, __nv_bfloat16* out, cudaStream_t stream) {
  const int64_t threads = w.out_padded / 16 * (w.in_padded / 256) * 32;
  if (threads == 0) return;
  DequantizeKernel<F><<<static_cast<unsigned>(CeilDiv(threads, kThreads)), kThreads, 0, stream>>>(w, out);
  QSWEEP_KERNEL_CHECK();
}

template <class F>
constexpr LowbitKernels Instance() {
  return {&Gemm<F>, &Dequantize<F>};
}

}  // namespace qsweep::kernels::lowbit
