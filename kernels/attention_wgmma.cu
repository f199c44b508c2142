#include "attention_wgmma.cuh"

#include <climits>
#include <cmath>

#include "attention_common.cuh"
#include "wgmma.cuh"
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

using bf16 = __nv_bfloat16;
namespace wg = wgmma;
using namespace attn;

constexpr int kMaxKeys = 128;  // keys per tile of any instance

// Row stride of transposed V: the rows rounded up to 8 (16-byte copies)
// plus a whole tile, so a tile that starts at or before the last row reads
// zeros, never past the buffer.
int64_t TransposedStride(int64_t rows) { return (rows + 7) / 8 * 8 + kMaxKeys; }

// v [rows, cols] → vt [cols, stride], zero past `rows`.
__global__ void TransposeV(const bf16* v, int64_t rows, int64_t cols, int64_t stride, bf16* vt) {
  __shared__ bf16 tile[32][34];
  const int64_t r0 = int64_t{blockIdx.x} * 32, c0 = int64_t{blockIdx.y} * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int64_t r = r0 + i;
    tile[i][threadIdx.x] = r < rows ? v[r * cols + c0 + threadIdx.x] : __float2bfloat16(0.0f);
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int64_t r = r0 + threadIdx.x;
    if (r < stride) vt[(c0 + i) * stride + r] = tile[threadIdx.x][i];
  }
}

// An instance: head dim, warpgroups per block (64 query rows each), keys
// per tile, the blocks per SM the registers are bounded for, and the K and
// V buffers (2: the next tile loads while one computes; 1: blocks overlap
// each other's loads, in less shared memory).
template <int HD_, int WGS_, int KEYS_, int MIN_BLOCKS_, int STAGES_ = 2>
struct WgConfig {
  static constexpr int HD = HD_, WGS = WGS_, KEYS = KEYS_, MIN_BLOCKS = MIN_BLOCKS_, STAGES = STAGES_;
  static constexpr int ROWS = 64 * WGS, THREADS = 128 * WGS;
  static constexpr int q_bytes = ROWS * HD * 2, k_bytes = KEYS * HD * 2, v_bytes = HD * KEYS * 2;
  // Q, K[STAGES], Vᵀ[STAGES], and slack to put them on a 1024-byte boundary.
  static constexpr size_t smem_bytes = q_bytes + STAGES * (k_bytes + v_bytes) + 1024;
  static_assert(STAGES == 1 || STAGES == 2);
  static_assert(KEYS % 64 == 0 && KEYS <= kMaxKeys && HD % 64 == 0);
};

// Rows [r0, r0 + ROWS) (zero from `end` on) of a head's HD columns, row
// stride `stride`, into a swizzled tile.
template <int HD, int ROWS, int THREADS>
__device__ inline void LoadRows(unsigned char* tile, const bf16* base, int r0, int end, int64_t stride) {
  constexpr int kChunks = HD / 8;
#pragma unroll 4
  for (int i = threadIdx.x; i < ROWS * kChunks; i += THREADS) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool valid = r0 + r < end;
    CopyAsync16(tile + wg::SwizzledOffset(r, c, ROWS), base + int64_t{valid ? r0 + r : r0} * stride + c, valid);
  }
}

// Thread (warpgroup w, warp i of it, lane 4g + t) holds, in wgmma's
// accumulator layout, rows 64w + 16i + g and + 8 of the block, columns
// 8n + 2t and 8n + 2t + 1 of each 8-column slice n of S and of O.
template <typename C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    WgmmaAttentionKernel(const bf16* q, const bf16* k, const bf16* vt, const QueryBlock* blocks, int64_t vt_stride,
                         const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin,
                         int q_heads, int kv_heads, bf16* out) {
  constexpr int HD = C::HD, KEYS = C::KEYS, ROWS = C::ROWS, THREADS = C::THREADS;
  extern __shared__ unsigned char smem_raw[];
  unsigned char* sq = smem_raw + ((1024 - (SmemAddress(smem_raw) & 1023)) & 1023);
  unsigned char* sk = sq + C::q_bytes;             // STAGES buffers
  unsigned char* sv = sk + C::STAGES * C::k_bytes;  // STAGES buffers
  const int group = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane / 4,
            t = lane % 4;
  // Rows of one sequence (query_blocks.h); the last rows of long sequences,
  // which see the most keys, come first.
  const int q0 = blocks[blockIdx.x].begin;
  const int h = blockIdx.y, kvh = h / (q_heads / kv_heads);
  const int64_t qs = int64_t{q_heads} * HD, ks = int64_t{kv_heads} * HD;
  const int q_end = blocks[blockIdx.x].end, last = q_end - 1;
  // Tiles start on 8 keys (transposed V's 16-byte copies): at the
  // sequence's first row, where sequences start on 8 rows (else before it,
  // masked).
  const int first = static_cast<int>(seq_begin[q0]) & ~7;
  // No row of this warpgroup sees keys past its last row.
  const int group_last = min(q0 + 64 * group + 63, last);
  RowMask<int> mask[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = q0 + 64 * group + 16 * warp + g + 8 * i;
    mask[i] = r < q_end ? RowMask<int>{r, static_cast<int>(seq_begin[r]), static_cast<int>(prefix_end[r]),
                                 static_cast<int>(branch_begin[r])}
                       : RowMask<int>{r, 0, 0, r + 1};  // a row past the block sees nothing (and is not stored)
  }
  const bf16* kh = k + int64_t{kvh} * HD;
  const bf16* vh = vt + int64_t{kvh} * HD * vt_stride;
  auto load_v = [&](unsigned char* tile, int j0) {  // always in bounds (TransposedStride)
    constexpr int kChunks = KEYS / 8;
#pragma unroll 4
    for (int i = threadIdx.x; i < HD * kChunks; i += THREADS) {
      const int d = i / kChunks, c = (i % kChunks) * 8;
      CopyAsync16(tile + wg::SwizzledOffset(d, c, HD), vh + d * vt_stride + j0 + c, true);
    }
  };
  LoadRows<HD, ROWS, THREADS>(sq, q + int64_t{h} * HD, q0, q_end, qs);
  LoadRows<HD, KEYS, THREADS>(sk, kh, first, last + 1, ks);
  load_v(sv, first);
  CommitAsync();

  const float scale = rsqrtf(static_cast<float>(HD)) * 1.4426950408889634f;  // scores in log2 units
  float o[HD / 2];
#pragma unroll
  for (int i = 0; i < HD / 2; ++i) o[i] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int tiles = (last - first) / KEYS + 1;
  for (int it = 0; it < tiles; ++it) {
    const int j0 = first + it * KEYS, buf = C::STAGES == 2 ? it & 1 : 0;
    if (C::STAGES == 1) {
      if (it > 0) {
        LoadRows<HD, KEYS, THREADS>(sk, kh, j0, last + 1, ks);
        load_v(sv, j0);
        CommitAsync();
      }
      WaitAsync<0>();
    } else if (it + 1 < tiles) {  // the next tile loads while this one computes
      LoadRows<HD, KEYS, THREADS>(sk + (buf ^ 1) * C::k_bytes, kh, j0 + KEYS, last + 1, ks);
      load_v(sv + (buf ^ 1) * C::v_bytes, j0 + KEYS);
      CommitAsync();
      WaitAsync<1>();
    } else {
      WaitAsync<0>();
    }
    wg::FenceProxyAsync();
    __syncthreads();
    if (j0 <= group_last) {
      const unsigned char* kt = sk + buf * C::k_bytes;
      const unsigned char* vtile = sv + buf * C::v_bytes;
      float s[KEYS / 2];
#pragma unroll
      for (int i = 0; i < KEYS / 2; ++i) s[i] = 0.0f;
      wg::Fence();
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        const uint64_t a = wg::Descriptor(sq + (kk / 4) * ROWS * 128 + group * 64 * 128 + (kk % 4) * 32);
        const uint64_t b = wg::Descriptor(kt + (kk / 4) * KEYS * 128 + (kk % 4) * 32);
        wg::MmaSS<KEYS>(s, a, b, 1);
      }
      wg::Commit();
      wg::Wait<0>();

      // Masks only where some row of the warp does not see the whole tile.
      const bool whole = __all_sync(0xffffffffu, mask[0].SeesAll(j0, j0 + KEYS - 1) &&
                                                     mask[1].SeesAll(j0, j0 + KEYS - 1));
      if (!whole)
#pragma unroll
        for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (!mask[e / 2].Sees(j0 + 8 * n + 2 * t + (e & 1))) s[4 * n + e] = -INFINITY;
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) mx[e / 2] = fmaxf(mx[e / 2], s[4 * n + e]);
      float base[2], alpha[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
        const float m_new = fmaxf(m[i], mx[i] * scale);
        // Until a row has seen a key its maximum is -inf: subtract 0 instead.
        base[i] = m_new == -INFINITY ? 0.0f : m_new;
        alpha[i] = FastExp2(m[i] - base[i]);
        m[i] = m_new;
        l[i] *= alpha[i];  // this thread's columns; summed over the quad at the end
      }
      // Once the maxima settle most tiles leave them be: no rescale then.
      if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f))
#pragma unroll
        for (int n = 0; n < HD / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) o[4 * n + e] *= alpha[e / 2];
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[4 * n + e] = FastExp2(fmaf(s[4 * n + e], scale, -base[e / 2]));
#pragma unroll
      for (int n = 0; n < KEYS / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) l[e / 2] += s[4 * n + e];
      // P over two adjacent 8-key slices is, in registers, the A fragment
      // of 16 keys.
      uint32_t p[KEYS / 16][4];
#pragma unroll
      for (int kk = 0; kk < KEYS / 16; ++kk) {
        p[kk][0] = PackBf16(s[8 * kk + 0], s[8 * kk + 1]);
        p[kk][1] = PackBf16(s[8 * kk + 2], s[8 * kk + 3]);
        p[kk][2] = PackBf16(s[8 * kk + 4], s[8 * kk + 5]);
        p[kk][3] = PackBf16(s[8 * kk + 6], s[8 * kk + 7]);
      }
      wg::Fence();
#pragma unroll
      for (int kk = 0; kk < KEYS / 16; ++kk)
        wg::MmaRS<HD>(o, p[kk], wg::Descriptor(vtile + (kk / 4) * HD * 128 + (kk % 4) * 32));
      wg::Commit();
      wg::Wait<0>();
    }
    __syncthreads();  // before the buffer is refilled
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = mask[i].r;
    if (r >= q_end) continue;
    const float inv = 1.0f / l[i];
    bf16* dst = out + int64_t{r} * qs + int64_t{h} * HD + 2 * t;
#pragma unroll
    for (int n = 0; n < HD / 8; ++n)
      *reinterpret_cast<__nv_bfloat162*>(dst + 8 * n) =
          __floats2bfloat162_rn(o[4 * n + 2 * i] * inv, o[4 * n + 2 * i + 1] * inv);
  }
}

template <typename C>
void LaunchWgmma(const bf16* q, const bf16* k, const bf16* vt, const QueryBlocks& blocks, int64_t vt_stride,
                 const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads,
                 int64_t kv_heads, bf16* out, cudaStream_t s) {
  constexpr size_t bytes = C::smem_bytes;
  static const bool configured = cudaFuncSetAttribute(WgmmaAttentionKernel<C>,
                                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(bytes)) == cudaSuccess;
  (void)configured;  // a failure shows as the launch's error
  static_assert(C::ROWS == 16 || C::ROWS == 32 || C::ROWS == 64 || C::ROWS == 128, "a height QueryBlocks has");
  if (blocks.CountFor(C::ROWS) == 0) return;
  const dim3 grid(static_cast<unsigned>(blocks.CountFor(C::ROWS)), static_cast<unsigned>(q_heads));
  WgmmaAttentionKernel<C><<<grid, C::THREADS, bytes, s>>>(q, k, vt, blocks.For(C::ROWS), vt_stride, seq_begin,
                                                         prefix_end, branch_begin, static_cast<int>(q_heads),
                                                         static_cast<int>(kv_heads), out);
  QSWEEP_KERNEL_CHECK();
}

void TransposeKv(const bf16* v, int64_t rows, int64_t cols, bf16* vt, cudaStream_t s) {
  const int64_t stride = TransposedStride(rows);
  TransposeV<<<dim3(static_cast<unsigned>((stride + 31) / 32), static_cast<unsigned>(cols / 32)), dim3(32, 8), 0, s>>>(
      v, rows, cols, stride, vt);
  QSWEEP_KERNEL_CHECK();
}

// The instance the backend runs (measured against the others with
// tools/bench/attention_variants.cu on H200).
template <int HD>
using WgChosen = WgConfig<HD, 2, 64, 2>;

}  // namespace

int64_t AttentionWgmmaScratchBytes(int64_t rows, int64_t kv_heads, int64_t head_dim) {
  return head_dim == 64 || head_dim == 128 ? kv_heads * head_dim * TransposedStride(rows) * 2 : 0;
}

bool AttentionWgmma(const bf16* q, const bf16* k, const bf16* v, int64_t rows, const QueryBlocks& blocks,
                    const int64_t* seq_begin,
                    const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                    int64_t head_dim, bf16* v_transposed, bf16* out, cudaStream_t s) {
  if ((head_dim != 64 && head_dim != 128) || rows + kMaxKeys + 8 > INT_MAX) return false;
  if (rows == 0) return true;
  TransposeKv(v, rows, kv_heads * head_dim, v_transposed, s);
  const int64_t stride = TransposedStride(rows);
  if (head_dim == 64)
    LaunchWgmma<WgChosen<64>>(q, k, v_transposed, blocks, stride, seq_begin, prefix_end, branch_begin, q_heads,
                              kv_heads, out, s);
  else
    LaunchWgmma<WgChosen<128>>(q, k, v_transposed, blocks, stride, seq_begin, prefix_end, branch_begin, q_heads,
                               kv_heads, out, s);
  return true;
}

}  // namespace qsweep::kernels
