// The kernel template of the low-bit family and its launchers; included by
// each format's translation unit, which instantiates it for its functors.
//
// gemm: a warp owns 16 output rows (one tensor-core A tile high) over one
// slice of the input dimension; a block's 4 warps own 64 adjacent rows and
// share their activations through shared memory. Per 256 inputs (a chunk)
// a warp's codes are b x 512 consecutive bytes: one bulk copy of one lane
// (bulk_copy.cuh) moves them into a 3-stage ring of shared memory, beside
// the block's rows of x and the tile's scales (cp.async, 16 bytes a lane),
// so that two chunks of every warp's codes are in flight while a third is
// computed: a warp consumes a chunk in well under HBM's loaded latency of
// about a microsecond. One chunk ahead in registers left each SM 24 KiB in
// flight and the kernel at 1.6 TB/s. All copies by cp.async took about 120
// of a warp's 426 instructions per chunk with their addresses; everything
// by bulk copies (13 of 16-2048 bytes per block and chunk) measured 5-11%
// slower than that, the small copies costing the copy engine more than
// they saved the warps.
// Activations are read as two 16-byte shared loads per 64 inputs and 8
// rows, already in fragment order (mma_tiled_weights.h permutes the inputs
// for that). Codes become bf16 operand pairs in registers, and mma.sync
// m16n8k16 accumulates in fp32 with the activations' rows as the 8 columns
// of operand B (a single row uses 1/8 of each MMA; the tensor cores are far
// from the limit). Two ways to make the pairs (dequant_formats.cuh):
//   wide    integer and sign formats with groups of 64 inputs and more, or
//           one scale per row: the integers c - z themselves (a LOP3 for
//           mask and magic, a shift for three pairs in four, one HSUB2),
//           each 64-input block's sums then scaled into the accumulators;
//   pairs   the others: the exact bf16 weight (the wide path's work plus
//           the exact scaling's HMUL2 + HFMA2), or fp32 values rounded in
//           pairs (codebooks, fp8).
// What bounds it, measured on H200 (bench gemm; ncu at gate/up 28672x8192,
// w4a16-g128, one row, wide path): about 426 instructions per warp and
// chunk of 4096 weights (the exact path took about 590, 300 of them the
// dequantization), of which about 120 issue the next chunk's copies (nvcc
// recomputes the thread's source addresses for every chunk; carrying them
// from chunk to chunk instead measured 2% slower), 5 blocks
// (20 warps) per SM as the 40 KiB of shared memory per block allow, 0.62
// instructions issued per scheduler cycle with no warp eligible 38% of
// the cycles, and DRAM at 51% of peak (2.43 TB/s). The whole Llama-3-70B
// layer at M=1 runs 2.17x cuBLASLt bf16 at w4a16-g128 (1.76x on the exact
// path), 2.52x at w2a16-g64, 2.94x at w1a16-g128, 1.35x at w8a16, whose
// 63 KiB stages leave 3 blocks per SM. What would move it: more warps per
// SM (a single row's stages now hold that row alone: 7 blocks per SM,
// 2.22x at w4a16-g128, 1.45x at w8a16; with the codes' bulk copies and
// the weights streamed before the previous kernel ends, dependent_launch.cuh:
// 2.26x and 1.45x, 1.45x and 1.02x at 16 rows), and a stream-K split for
// the short blocks of narrow layers (8192x8192 runs 8 slices of 4 chunks
// per block); deeper rings (4-6 stages) measured slower, at 2 blocks per SM,
// and so did a single row's x read straight from global memory (L1) by the
// 4 lanes of column 0, each warp with a ring of its own and no block
// barrier (8 blocks per SM): 1.79x against 2.39x in the same call.
//
// Batch invariance: a row of x meets the same instructions in the same
// order whatever the other rows are: its 8-row tile's MMAs see only its own
// column of B, the input dimension is cut into slices by the weight's shape
// alone (LowbitSplitFor), and the last block to finish sums the slices in
// slice order. A row's result therefore does not depend on the row count or
// on its position in the batch (tested).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>

#include "attention_common.cuh"
#include "bulk_copy.cuh"
#include "dependent_launch.cuh"
#include "launch_check.cuh"
#include "lowbit/dequant_formats.cuh"
#include "lowbit/lowbit_gemm.cuh"

namespace qsweep::kernels::lowbit {

constexpr int kWarps = 4, kThreads = 32 * kWarps, kRowsPerBlock = 16 * kWarps;

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

// A group's parameters for one row, read from device memory.
template <class F>
__device__ __forceinline__ GroupParams ParamsAt(const LowbitWeights& w, int64_t row, int64_t group) {
  const int64_t at = group * w.out_padded + row;
  return F::Of(__half2float(__ushort_as_half(__ldg(w.scales + at))),
               w.zeros != nullptr ? static_cast<float>(__ldg(w.zeros + at)) : 0.0f);
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

// d = a·b with a zero accumulator: the first k16 step of a wide block.
__device__ __forceinline__ void MmaFirst(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%10,%10,%10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(0.0f));
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

// A block's shared memory: S stages, each holding one chunk (256 inputs) of
// everything the chunk's MMAs read: the block's XRows rows of x (8 per tile
// of rows, or the one row of a single-row product), and per warp its tile's
// codes, scales and zero points. Stage s is refilled by cp.async while
// stages s+1 .. s+S-1 are consumed, so S-1 chunks of every warp's codes are
// in flight at once.
template <int B, int XRows, int kGroups>
struct Stages {
  static constexpr int kRows = XRows;
  // A chunk's groups: 16 of 16 inputs, 4 on the wide path (64 and more).
  static constexpr int kMaxGroups = kGroups;
  // Rows padded by 16 bytes: a quarter-warp's 16-byte reads (rows gid,
  // gid + 1 at 4 column offsets) then fall in distinct banks.
  static constexpr int kPitch = 256 + 8;
  struct Stage {
    __nv_bfloat16 x[kRows][kPitch];
    uint4 codes[kWarps][B * 32];
    uint16_t scales[kWarps][kMaxGroups][16];
    uint8_t zeros[kWarps][kMaxGroups][16];
  };
  // Two chunks of every warp's codes in flight. Deeper rings (4-6 stages)
  // measured slower on H200: their shared memory left 2 blocks (8 warps)
  // per SM, too few to hide the latency of the dequantization's dependent
  // instructions; at 3 stages 3-5 blocks fit, 7 when a stage holds one
  // row of x (28 KiB at 4 bits).
  static constexpr int kCount = 3;
  static constexpr size_t kBytes = kCount * sizeof(Stage);
};

// The stages of the kernel for format F, XRows rows of x and the path.
template <class F, int XRows, bool kWide>
using StagesOf = Stages<F::kBits, XRows, kWide ? 4 : 16>;

// MT tiles of 8 rows per block (grid z walks the rest), of which the stages
// hold XRows: 8·MT, or 1 for a product of one row, whose stages then leave
// out the 7 rows of zeros that would fill the rest of its tile: the lanes
// of the other 7 columns of operand B take zeros from registers instead,
// and more blocks fit per SM. Column 0 of each MMA sees the same operands
// either way, so the row's result is the same bits. Each warp's codes of
// a chunk arrive by one bulk copy, counted off the stage's barrier; every
// thread copies its share of the activations and group parameters with
// cp.async, one commit group per chunk. A lane reads back only its own
// codes, but the activations and parameters of the whole block, so one
// block barrier per chunk both publishes a stage and frees the one
// consumed before it.
template <class F, int MT, bool kWide, int XRows>
__global__ void __launch_bounds__(kThreads) GemmKernel(LowbitWeights w, const __nv_bfloat16* __restrict__ x,
                                                       int64_t rows, int64_t ldx, void* y, int64_t ldy,
                                                       LowbitOut mode, int64_t chunks_per_slice, int slices,
                                                       float* partials, int* counters) {
  constexpr int B = F::kBits;
  using St = StagesOf<F, XRows, kWide>;
  static_assert(XRows == 8 * MT || (XRows == 1 && MT == 1));
  constexpr int S = St::kCount, kRows = St::kRows;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* stages = reinterpret_cast<typename St::Stage*>(smem_raw);
  __shared__ float table[16];
  pdl::AllowDependents();  // the next product may begin streaming its weights once every block runs
  FillTable<F>(w, table);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const int64_t row_tiles = w.out_padded / 16, chunks = w.in_padded / 256;
  const int64_t nt = int64_t{blockIdx.x} * kWarps + warp, m0 = int64_t{blockIdx.z} * 8 * MT;
  const int slice = blockIdx.y;
  const int64_t c_begin = slice * chunks_per_slice, c_end = std::min(chunks, c_begin + chunks_per_slice);
  const bool active = nt < row_tiles;
  // Groups per chunk, and the chunk's first group: one group per row
  // (group_shift < 0) is group 0 of every chunk.
  const int shift = w.group_shift;
  const int groups = shift < 0 || shift >= 8 ? 1 : 256 >> shift;
  const int x_rows = static_cast<int>(std::min<int64_t>(kRows, rows - m0));
  constexpr int kRowPieces = St::kPitch * 2 / 16;
#pragma unroll
  for (int st = 0; st < S; ++st)
    for (int i = threadIdx.x; i < (kRows - x_rows) * kRowPieces; i += kThreads)
      reinterpret_cast<uint4*>(&stages[st].x[x_rows + i / kRowPieces][0])[i % kRowPieces] = make_uint4(0, 0, 0, 0);
  // A chunk's copies, from bases fixed here. The codes, a warp's B x 512
  // consecutive bytes, one bulk copy by lane 0 counted off the stage's
  // barrier (thread 0's arrival announces the block's bytes); the rest with
  // cp.async, one commit group per chunk: 16 bytes of x rows warp + 4i (the
  // tile's rows there are; the others stay the zeros just written), and
  // for lanes below 2 per group the tile's scales (16 rows of fp16: two
  // pieces a group), below 1 per group its zero points.
  __shared__ __align__(8) uint64_t codes_landed[S];
  const uint32_t bars0 = attn::SmemAddress(codes_landed);
  if (threadIdx.x < S) bulk::InitBarrier(bars0 + threadIdx.x * 8, 1);
  bulk::FenceBarrierInit();
  constexpr int kXPieces = (kRows + kWarps - 1) / kWarps;
  const __nv_bfloat16* x_lane = x + (m0 + warp) * ldx + lane * 8;
  const uint4* codes = reinterpret_cast<const uint4*>(w.codes) + nt * chunks * B * 32;
  const uint16_t* scales_lane = w.scales + (lane / 2) * w.out_padded + nt * 16 + 8 * (lane % 2);
  const uint8_t* zeros_lane = w.zeros != nullptr ? w.zeros + lane * w.out_padded + nt * 16 : nullptr;
  const bool copies_scales = active && lane < 2 * groups, copies_zeros = active && w.zeros != nullptr && lane < groups;
  const uint32_t block_code_bytes =
      static_cast<uint32_t>(std::min<int64_t>(kWarps, row_tiles - int64_t{blockIdx.x} * kWarps)) * B * 512;
  const uint32_t smem0 = attn::SmemAddress(stages);
  constexpr uint32_t kStageBytes = sizeof(typename St::Stage);
  constexpr uint32_t kCodesAt = offsetof(typename St::Stage, codes), kScalesAt = offsetof(typename St::Stage, scales),
                     kZerosAt = offsetof(typename St::Stage, zeros);
  const uint32_t x_at = (warp * St::kPitch + lane * 8) * 2, codes_at = kCodesAt + warp * B * 512,
                 scales_at = kScalesAt + warp * St::kMaxGroups * 32 + lane * 16,
                 zeros_at = kZerosAt + warp * St::kMaxGroups * 16 + lane * 16;
  // Offsets within a layer in 32-bit arithmetic (LaunchGemm checks that
  // they fit).
  const int in32 = static_cast<int>(w.in), out_padded32 = static_cast<int>(w.out_padded);
  const int c_end32 = static_cast<int>(c_end);
  // The weights' copies (nothing a previous kernel writes), then x's.
  auto issue_weights = [&](int c, int s) {
    if (c >= c_end32) return;
    const uint32_t base = smem0 + s * kStageBytes, bar = bars0 + s * 8;
    if (threadIdx.x == 0) bulk::ArriveExpectBytes(bar, block_code_bytes);
    if (active) {
      if (lane == 0) bulk::CopyToShared(base + codes_at, codes + c * (B * 32), B * 512, bar);
      const int g0 = shift < 0 ? 0 : (c * 256) >> shift;
      if (copies_scales) attn::CopyAsync16At(base + scales_at, scales_lane + g0 * out_padded32, true);
      if (copies_zeros) attn::CopyAsync16At(base + zeros_at, zeros_lane + g0 * out_padded32, true);
    }
  };
  auto issue_x = [&](int c, int s) {
    if (c < c_end32) {
      const uint32_t base = smem0 + s * kStageBytes;
      const int k0 = c * 256;
      const bool valid = k0 + lane * 8 < in32;  // in is a multiple of 8
#pragma unroll
      for (int i = 0; i < kXPieces; ++i)
        if (warp + kWarps * i < x_rows)
          attn::CopyAsync16At(base + x_at + i * kWarps * St::kPitch * 2, valid ? x_lane + i * kWarps * ldx + k0 : x,
                              valid);
    }
    attn::CommitAsync();  // empty past the slice's end: every chunk is one group
  };
  float acc[MT][4] = {};
  using Params = std::conditional_t<F::kPairs, PairParams, GroupParams>;
  auto params_of = [&](const typename St::Stage& st, int g, int row) {
    const float scale = __half2float(__ushort_as_half(st.scales[warp][g][row]));
    const float zero = w.zeros != nullptr ? static_cast<float>(st.zeros[warp][g][row]) : 0.0f;
    if constexpr (F::kPairs) return F::PairOf(scale, zero);
    else return F::Of(scale, zero);
  };
  __syncthreads();  // the barriers are initialized
  // The first stages' weights stream while the kernel before this one
  // finishes (dependent_launch.cuh); x and the outputs wait for it.
#pragma unroll
  for (int s = 0; s < S - 1; ++s) issue_weights(static_cast<int>(c_begin) + s, s);
  pdl::WaitForPredecessor();
#pragma unroll
  for (int s = 0; s < S - 1; ++s) issue_x(static_cast<int>(c_begin) + s, s);
  int s = 0;
  uint32_t parity = 0;
  for (int c = static_cast<int>(c_begin); c < c_end32; ++c) {
    attn::WaitAsync<S - 2>();
    __syncthreads();  // stage s is complete for every thread; stage s - 1 is free
    const int next = s == 0 ? S - 1 : s - 1;
    issue_weights(c + S - 1, next);
    issue_x(c + S - 1, next);
    bulk::WaitPhase(bars0 + s * 8, parity);
    const typename St::Stage& st = stages[s];
    if (active) {
      uint32_t cw[4 * B];
#pragma unroll
      for (int q = 0; q < B; ++q) {
        const uint4 v = st.codes[warp][q * 32 + lane];
        cw[4 * q] = v.x, cw[4 * q + 1] = v.y, cw[4 * q + 2] = v.z, cw[4 * q + 3] = v.w;
      }
      // x's fragments for the 64 inputs of block bi: rows gid (+ 8·mt).
      auto load_x = [&](int bi, uint32_t (&xb)[MT][8]) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          uint4 lo = make_uint4(0, 0, 0, 0), hi = lo;
          if (kRows == 8 * MT || gid < kRows) {
            const uint4* src = reinterpret_cast<const uint4*>(&st.x[mt * 8 + gid][bi * 64 + tig * 16]);
            lo = src[0], hi = src[1];
          }
          xb[mt][0] = lo.x, xb[mt][1] = lo.y, xb[mt][2] = lo.z, xb[mt][3] = lo.w;
          xb[mt][4] = hi.x, xb[mt][5] = hi.y, xb[mt][6] = hi.z, xb[mt][7] = hi.w;
        }
      };
      if constexpr (kWide) {
        // Per 64-input block: the integers' products summed from zero, then
        // scaled into the accumulators by the block's group scale.
        float scale[2];
        typename F::WideOffset offset[2];
        int previous = -1;
#pragma unroll
        for (int bi = 0; bi < 4; ++bi) {
          const int g = shift < 0 ? 0 : (bi * 64) >> shift;
          if (g != previous) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              scale[h] = __half2float(__ushort_as_half(st.scales[warp][g][gid + 8 * h]));
              offset[h] = F::WideOffsetOf(w.zeros != nullptr ? static_cast<float>(st.zeros[warp][g][gid + 8 * h]) : 0.0f);
            }
          }
          previous = g;
          uint32_t xb[MT][8];
          load_x(bi, xb);
          float part[MT][4];
#pragma unroll
          for (int tt = 0; tt < 4; ++tt) {
            const int t = bi * 4 + tt;
            uint32_t a[4];  // (e0, e1), (e2, e3), (e4, e5), (e6, e7): rows gid, gid + 8, gid, gid + 8
#pragma unroll
            for (int r = 0; r < 4; ++r) a[r] = F::WidePair(cw, 4 * t + r, offset[r & 1]);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              if (tt == 0) MmaFirst(part[mt], a[0], a[1], a[2], a[3], xb[mt][0], xb[mt][1]);
              else Mma(part[mt], a[0], a[1], a[2], a[3], xb[mt][2 * tt], xb[mt][2 * tt + 1]);
            }
          }
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][i] = fmaf(part[mt][i], scale[i >> 1], acc[mt][i]);
        }
      } else {
        Params params[2];
        int previous = -1;
#pragma unroll
        for (int bi = 0; bi < 4; ++bi) {
          // Blocks of one group (groups of 64 inputs and more) keep the
          // parameters they have.
          const int g = shift < 0 ? 0 : (bi * 64 + tig * 16) >> shift;
          if (g != previous) params[0] = params_of(st, g, gid), params[1] = params_of(st, g, gid + 8);
          previous = g;
          uint32_t xb[MT][8];
          load_x(bi, xb);
#pragma unroll
          for (int tt = 0; tt < 4; ++tt) {
            const int t = bi * 4 + tt;
            uint32_t a[4];  // (e0, e1), (e2, e3), (e4, e5), (e6, e7): rows gid, gid + 8, gid, gid + 8
            if constexpr (F::kPairs) {
#pragma unroll
              for (int r = 0; r < 4; ++r) a[r] = F::ValuePair(MagicPair<B>(cw, 4 * t + r), params[r & 1]);
            } else {
#pragma unroll
              for (int r = 0; r < 4; ++r)
                a[r] = PackBf16(F::Value(Code<B>(cw, 8 * t + 2 * r), params[r & 1], table),
                                F::Value(Code<B>(cw, 8 * t + 2 * r + 1), params[r & 1], table));
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) Mma(acc[mt], a[0], a[1], a[2], a[3], xb[mt][2 * tt], xb[mt][2 * tt + 1]);
          }
        }
      }
    }
    if (s == S - 1) s = 0, parity ^= 1;
    else ++s;
  }
  attn::WaitAsync<0>();  // no copy outlives the block (the bulk copies: each was waited on)
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
    // Codes of 1 and 2 bits: up to 16 slices' loads in flight before their
    // adds (the adds keep slice order). Measured in one process on H200,
    // the whole Llama-3-70B layer at one row: w1a16-g128 133 us against
    // 145 us with one load at a time; but w4a16-g128 196 us against 186 us,
    // every shape slower, for a reason not found (54 registers against 51,
    // the same blocks per SM), so the wider codes keep the plain loop.
    constexpr int kBatch = B <= 2 ? 16 : 1;
    const float* p = partials + m * w.out_padded + n;
    const int64_t step = rows * w.out_padded;
    float s = 0;
    for (int sl = 0; sl < slices; sl += kBatch) {
      float v[kBatch];
#pragma unroll
      for (int j = 0; j < kBatch; ++j) v[j] = sl + j < slices ? __ldcg(p + (sl + j) * step) : 0.0f;
#pragma unroll
      for (int j = 0; j < kBatch; ++j)
        if (sl + j < slices) s += v[j];
    }
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
    const GroupParams g[2] = {ParamsAt<F>(w, r0, group), ParamsAt<F>(w, r0 + 8, group)};
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

template <class F, int MT, bool kWide, int XRows = 8 * MT>
void LaunchGemm(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
                LowbitOut mode, void* workspace, int sms, cudaStream_t stream) {
  const LowbitSplit s = LowbitSplitFor(w.out_padded, w.in_padded, sms);
  if (CounterBytes(w.out_padded) > kCounterRegionBytes) {  // 2^21 outputs and more: no layer of any model here
    std::fprintf(stderr, "qsweep: a low-bit layer of %lld outputs exceeds the gemm's counter region\n",
                 static_cast<long long>(w.out_padded));
    std::abort();
  }
  // The kernel's 32-bit offsets: inputs, and group rows times outputs (at
  // most one group per 16 inputs). 2^31 of them is 2^35 weights, far past any
  // layer of any model here.
  if (w.in_padded >= (int64_t{1} << 31) || (w.in_padded / 16) * w.out_padded >= (int64_t{1} << 31)) {
    std::fprintf(stderr, "qsweep: a low-bit layer of %lld x %lld exceeds the gemm's 32-bit offsets\n",
                 static_cast<long long>(w.out_padded), static_cast<long long>(w.in_padded));
    std::abort();
  }
  auto* counters = static_cast<int*>(workspace);
  auto* partials = reinterpret_cast<float*>(static_cast<char*>(workspace) + kCounterRegionBytes);
  const dim3 grid(static_cast<unsigned>(CeilDiv(w.out_padded / 16, kWarps)), static_cast<unsigned>(s.slices),
                  static_cast<unsigned>(CeilDiv(rows, 8 * MT)));
  constexpr size_t smem = StagesOf<F, XRows, kWide>::kBytes;
  static const bool configured = cudaFuncSetAttribute(GemmKernel<F, MT, kWide, XRows>,
                                                      cudaFuncAttributeMaxDynamicSharedMemorySize, smem) == cudaSuccess;
  if (!configured) {
    std::fprintf(stderr, "qsweep: the low-bit gemm cannot have %zu bytes of shared memory on this device\n", smem);
    std::abort();
  }
  // Launched to overlap the kernel before it: the part it does before
  // waiting for that kernel reads the weights alone, and every path that
  // writes weights on the device (upload, device quantization,
  // calibration) synchronizes the stream before they are used.
  QSWEEP_KERNEL_LAUNCH_CHECK(pdl::LaunchDependent(GemmKernel<F, MT, kWide, XRows>, grid, dim3(kThreads), smem, stream,
                                                  w, x, rows, ldx, y, ldy, mode, s.chunks_per_slice, s.slices,
                                                  partials, counters));
}

// Rows in tiles of 8, 16 or 32 per block: more rows share each dequantized
// weight, fewer registers below 9 rows; one row alone keeps only itself in
// shared memory. The choice changes which rows share a block, never a
// row's arithmetic; the path (wide or not) is the weight's.
template <class F, bool kWide>
void GemmRows(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
              LowbitOut mode, void* workspace, int sms, cudaStream_t stream) {
  if (rows == 1) return LaunchGemm<F, 1, kWide, 1>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  if (rows <= 8) return LaunchGemm<F, 1, kWide>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  if (rows <= 16) return LaunchGemm<F, 2, kWide>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  LaunchGemm<F, 4, kWide>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
}

template <class F>
void Gemm(const LowbitWeights& w, const __nv_bfloat16* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
          LowbitOut mode, void* workspace, int sms, cudaStream_t stream) {
  if (rows <= 0) return;
  if constexpr (F::kWide) {
    if (LowbitWideGroups(w.group_shift)) return GemmRows<F, true>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
  }
  GemmRows<F, false>(w, x, rows, ldx, y, ldy, mode, workspace, sms, stream);
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
  return {&Gemm<F>, &Dequantize<F>, F::kWide};
}

}  // namespace qsweep::kernels::lowbit
