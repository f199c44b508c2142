#include "int8_gemm.cuh"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>

#include <cstdio>
#include <cstdlib>

#include "bulk_copy.cuh"
#include "launch_check.cuh"
#include "wgmma.cuh"

namespace qsweep::kernels {
namespace {

// A block computes 128 rows x 256 outputs. Warpgroup 0 is the producer: one
// thread hands the tensor copy engine each stage's two boxes (128 rows of
// x's codes, 256 rows of w's, 128 bytes of k each), which land in the
// 128-byte swizzle wgmma reads, so no thread spends instructions on
// addresses or copies. Warpgroups 1 and 2 each multiply 64 of the rows by
// all 256 outputs: one m64n256k32 wgmma per 32 bytes of k, whose B tile
// (the weights, 32 KB a stage) both share from shared memory. Four stages
// (192 KB) keep three loads in flight while one is multiplied; the
// consumers hand a stage back once the wgmmas that read it are done, one
// group behind the one just issued, so the tensor cores always have the
// next group queued. The producer gives back its registers (setmaxnreg) so
// that each consumer thread holds its 128 accumulators with room to spare.
// The epilogue scales the accumulators and stores them straight to y, each
// lane two adjacent outputs; one tile per block, so it does not overlap the
// next tile's loads (a persistent schedule would).
constexpr int kBlockRows = 128, kBlockCols = 256, kTileK = 128, kStages = 4;
constexpr int kThreads = 384;
constexpr int kXBytes = kBlockRows * kTileK, kWBytes = kBlockCols * kTileK, kStageBytes = kXBytes + kWBytes;
constexpr int kSharedBytes = kStages * kStageBytes + 2 * kStages * 8 + 1024;  // + barriers, + alignment
// Tiles in the order of blockIdx: groups of kGroupRows row tiles, each
// group sweeping every output tile with its row tiles fastest. The blocks
// resident at once then share a few weight tiles and a group's x rows
// (16 x 128 rows of codes: 16 MB at k = 8192, held in L2), so the weights
// are read from memory once per group rather than once per row tile.
constexpr int kGroupRows = 16;
constexpr int kConsumerWarps = 8;

__device__ inline void Store(void* y, int64_t ldy, ScaledOut out, int64_t r, int64_t c, int64_t n, float v0,
                             float v1) {
  if (out == ScaledOut::kBf16) {
    auto* p = static_cast<__nv_bfloat16*>(y) + r * ldy + c;
    if (c + 1 < n) {
      *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(v0, v1);
    } else {
      p[0] = __float2bfloat16_rn(v0);
    }
    return;
  }
  float* p = static_cast<float*>(y) + r * ldy + c;
  if (out == ScaledOut::kAddF32) {
    if (c + 1 < n) {
      float2 o = *reinterpret_cast<float2*>(p);
      *reinterpret_cast<float2*>(p) = make_float2(__fadd_rn(o.x, v0), __fadd_rn(o.y, v1));
    } else {
      p[0] = __fadd_rn(p[0], v0);
    }
    return;
  }
  if (c + 1 < n) {
    *reinterpret_cast<float2*>(p) = make_float2(v0, v1);
  } else {
    p[0] = v0;
  }
}

// Keeps the compiler from moving accesses of the accumulators across the
// point where this stands (a wgmma in flight owns them).
__device__ inline void FenceOperands(int32_t (&acc)[128]) {
#pragma unroll
  for (int i = 0; i < 128; ++i) asm volatile("" : "+r"(acc[i])::"memory");
}

__global__ void __launch_bounds__(kThreads, 1)
    Int8GemmKernel(const __grid_constant__ CUtensorMap xmap, const __grid_constant__ CUtensorMap wmap, int rows, int n,
                   int k_tiles, int tiles_m, int tiles_n, const float* __restrict__ x_scale,
                   const float* __restrict__ w_scale, void* __restrict__ y, int64_t ldy, ScaledOut out) {
  extern __shared__ uint8_t raw[];
  // The 128-byte swizzle is a function of the address bits, so each box
  // starts on a 1024-byte boundary (its 8-row period).
  uint8_t* smem = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 1023) & ~uintptr_t{1023});
  const uint32_t base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const uint32_t full = base + kStages * kStageBytes, empty = full + kStages * 8;
  auto x_tile = [&](int s) { return base + s * kStageBytes; };
  auto w_tile = [&](int s) { return base + s * kStageBytes + kXBytes; };

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      bulk::InitBarrier(full + 8 * s, 1);
      bulk::InitBarrier(empty + 8 * s, kConsumerWarps);
    }
    bulk::FenceBarrierInit();
  }
  __syncthreads();

  const int per_group = kGroupRows * tiles_n;
  const int group = blockIdx.x / per_group, in_group = blockIdx.x % per_group;
  const int first_m = group * kGroupRows, group_m = min(tiles_m - first_m, kGroupRows);
  const int tm = first_m + in_group % group_m, tn = in_group / group_m;

  const int warpgroup = threadIdx.x / 128;
  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      for (int kt = 0; kt < k_tiles; ++kt) {
        const int s = kt % kStages;
        // The stage's previous use ends when every consumer warp has let it go.
        if (kt >= kStages) bulk::WaitPhase(empty + 8 * s, (kt / kStages - 1) & 1);
        bulk::ArriveExpectBytes(full + 8 * s, kStageBytes);
        bulk::TensorCopy2dToShared(x_tile(s), &xmap, kt * kTileK, tm * kBlockRows, full + 8 * s);
        bulk::TensorCopy2dToShared(w_tile(s), &wmap, kt * kTileK, tn * kBlockCols, full + 8 * s);
      }
    }
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int half = warpgroup - 1;  // rows 64·half .. 64·half + 63 of the tile
  int32_t acc[128];  // the first wgmma overwrites them
  for (int kt = 0; kt < k_tiles; ++kt) {
    const int s = kt % kStages;
    bulk::WaitPhase(full + 8 * s, (kt / kStages) & 1);
    FenceOperands(acc);
    wgmma::Fence();
    const uint8_t* xs = smem + s * kStageBytes + half * 64 * kTileK;
    const uint8_t* ws = smem + s * kStageBytes + kXBytes;
#pragma unroll
    for (int kk = 0; kk < kTileK / 32; ++kk)
      wgmma::WgmmaS8_N256(acc, wgmma::Descriptor(xs + kk * 32), wgmma::Descriptor(ws + kk * 32), kt > 0 || kk > 0);
    wgmma::Commit();
    // The group before this one is done: its stage goes back to the producer.
    wgmma::Wait<1>();
    FenceOperands(acc);
    if (kt > 0 && threadIdx.x % 32 == 0) bulk::Arrive(empty + 8 * ((kt - 1) % kStages));
  }
  wgmma::Wait<0>();
  FenceOperands(acc);

  // The accumulator layout of m64nN: warp w of the warpgroup holds rows
  // 16w + lane/4 and 16w + lane/4 + 8; in each 8-column group j, columns
  // 8j + 2·(lane % 4) and the next.
  const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4;
  const int64_t r0 = int64_t{tm} * kBlockRows + half * 64 + warp * 16 + lane / 4;
  const int64_t c0 = int64_t{tn} * kBlockCols + 2 * (lane % 4);
  const float xs0 = r0 < rows ? x_scale[r0] : 0.0f, xs1 = r0 + 8 < rows ? x_scale[r0 + 8] : 0.0f;
#pragma unroll
  for (int j = 0; j < kBlockCols / 8; ++j) {
    const int64_t c = c0 + 8 * j;
    if (c < n) {
      const float ws0 = w_scale[c], ws1 = c + 1 < n ? w_scale[c + 1] : 0.0f;
      auto scaled = [](int32_t a, float sx, float sw) { return __fmul_rn(__fmul_rn(static_cast<float>(a), sx), sw); };
      if (r0 < rows) Store(y, ldy, out, r0, c, n, scaled(acc[4 * j], xs0, ws0), scaled(acc[4 * j + 1], xs0, ws1));
      if (r0 + 8 < rows)
        Store(y, ldy, out, r0 + 8, c, n, scaled(acc[4 * j + 2], xs1, ws0), scaled(acc[4 * j + 3], xs1, ws1));
    }
  }
}

// A two-dimensional map of int8 codes [outer, inner] (row stride inner)
// whose box is box_outer rows of 128 bytes in the 128-byte swizzle.
CUtensorMap CodesMap(const int8_t* base, int64_t inner, int64_t outer, int box_outer) {
  static const auto encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                                           &found);
    if (e != cudaSuccess || found != cudaDriverEntryPointSuccess || fn == nullptr) {
      std::fprintf(stderr, "qsweep: the driver has no cuTensorMapEncodeTiled (%s)\n", cudaGetErrorString(e));
      std::abort();
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(outer)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(inner)};
  const cuuint32_t box[2] = {kTileK, static_cast<cuuint32_t>(box_outer)};
  const cuuint32_t steps[2] = {1, 1};
  const CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(base), dims, strides, box,
                            steps, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    std::fprintf(stderr, "qsweep: cuTensorMapEncodeTiled failed (%d) for [%ld, %ld] codes\n", static_cast<int>(r),
                 static_cast<long>(outer), static_cast<long>(inner));
    std::abort();
  }
  return map;
}

}  // namespace

bool Int8GemmPays(int64_t rows, int64_t n, int sms) {
  const int64_t tiles = (rows + kBlockRows - 1) / kBlockRows * ((n + kBlockCols - 1) / kBlockCols);
  return rows >= kBlockRows && 2 * tiles >= sms;
}

void Int8Gemm(const int8_t* x, int64_t rows, const int8_t* w, int64_t n, int64_t n_padded, int64_t k,
              const float* x_scale, const float* w_scale, void* y, int64_t ldy, ScaledOut out, cudaStream_t s) {
  if (rows == 0 || n == 0) return;
  if (!Int8GemmTakes(x, w, k, ldy) || rows >= (int64_t{1} << 31) || n_padded >= (int64_t{1} << 31)) {
    std::fprintf(stderr, "qsweep: Int8Gemm: unaligned operands (k %ld, ldy %ld)\n", static_cast<long>(k),
                 static_cast<long>(ldy));
    std::abort();
  }
  const CUtensorMap xmap = CodesMap(x, k, rows, kBlockRows);
  const CUtensorMap wmap = CodesMap(w, k, n_padded, kBlockCols);
  const int tiles_m = static_cast<int>((rows + kBlockRows - 1) / kBlockRows);
  const int tiles_n = static_cast<int>((n + kBlockCols - 1) / kBlockCols);
  const int k_tiles = static_cast<int>((k + kTileK - 1) / kTileK);
  static const bool configured = [] {
    QSWEEP_KERNEL_LAUNCH_CHECK(
        cudaFuncSetAttribute(Int8GemmKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes));
    return true;
  }();
  (void)configured;
  Int8GemmKernel<<<tiles_m * tiles_n, kThreads, kSharedBytes, s>>>(xmap, wmap, static_cast<int>(rows),
                                                                    static_cast<int>(n), k_tiles, tiles_m, tiles_n,
                                                                    x_scale, w_scale, y, ldy, out);
  QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
