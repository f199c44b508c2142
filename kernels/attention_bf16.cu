#include "attention_bf16.cuh"
#include "attention_common.cuh"

#include <cmath>
#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

using bf16 = __nv_bfloat16;
using namespace attn;

// A kernel instance: head dim, warps per block, 16-row tiles per warp (a
// warp reuses each K and V fragment it loads for all of its tiles), keys per
// tile, whether Q's fragments stay in registers (else they are read from
// shared memory for every key tile), and the blocks per SM the registers
// are bounded for.
template <int HD_, int WARPS_, int MT_, int KEYS_, bool Q_IN_REGISTERS_, int MIN_BLOCKS_>
struct Config {
  static constexpr int HD = HD_, WARPS = WARPS_, MT = MT_, KEYS = KEYS_, MIN_BLOCKS = MIN_BLOCKS_;
  static constexpr int ROWS = 16 * MT * WARPS, THREADS = 32 * WARPS;
  static constexpr bool Q_IN_REGISTERS = Q_IN_REGISTERS_;
  // Tiles of HD columns in shared memory, rows padded by 16 bytes so that the
  // eight 16-byte rows one ldmatrix phase reads fall in distinct banks.
  static constexpr int ld = HD + 8;
  static constexpr int q_elems = ROWS * ld, kv_elems = KEYS * ld;
  static constexpr size_t smem_bytes = (q_elems + 4 * kv_elems) * sizeof(bf16);  // Q, K[2], V[2]
};

__device__ inline void LoadMatrix4(uint32_t r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddress(p)));
}
__device__ inline void LoadMatrix4Transposed(uint32_t r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddress(p)));
}

// c[16x8] += a[16x16] · b[16x8], bf16 in, fp32 accumulate.
__device__ inline void Mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Rows [r0, min(r0 + ROWS, end)) of a head's HD columns (row stride
// `stride`) into a tile with row stride LD; the rest of the tile is zero.
template <int HD, int ROWS, int LD, int THREADS>
__device__ inline void LoadTile(bf16* tile, const bf16* base, int64_t r0, int64_t end, int64_t stride) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
#pragma unroll
  for (int i = threadIdx.x; i < ROWS * kChunks; i += THREADS) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool valid = r0 + r < end;
    CopyAsync16(tile + r * LD + c, base + (valid ? r0 + r : r0) * stride + c, valid);
  }
}

// Thread (warp w, lane = 4g + t) holds, in mma's accumulator layout, rows
// R + g and R + g + 8 of each of its warp's 16-row tiles (R = 16·(MT·w + mt)),
// columns 8n + 2t and 8n + 2t + 1 of each 8-column slice n of the scores and
// of the output.
template <typename C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    FlashAttentionKernel(const bf16* q, const bf16* k, const bf16* v, const QueryBlock* blocks, const int64_t* seq_begin,
                         const int64_t* prefix_end, const int64_t* branch_begin, int q_heads, int kv_heads,
                         bf16* out) {
  constexpr int HD = C::HD, MT = C::MT, kRows = C::ROWS, kKeys = C::KEYS, ld = C::ld, kThreads = C::THREADS;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sq = reinterpret_cast<bf16*>(smem);
  bf16* sk = sq + C::q_elems;       // two buffers
  bf16* sv = sk + 2 * C::kv_elems;  // two buffers
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  // Rows of one sequence (query_blocks.h); the last rows of long sequences,
  // which see the most keys, come first.
  const int64_t q0 = blocks[blockIdx.x].begin;
  const int h = blockIdx.y, kvh = h / (q_heads / kv_heads);
  const int64_t qs = int64_t{q_heads} * HD, kvs = int64_t{kv_heads} * HD;
  const int64_t q_end = blocks[blockIdx.x].end, first = seq_begin[q0], last = q_end - 1;
  RowMask<int64_t> mask[2 * MT];  // [2·mt + i]: row 16·(MT·warp + mt) + g + 8i
#pragma unroll
  for (int i = 0; i < 2 * MT; ++i) {
    const int64_t r = q0 + 16 * (MT * warp + i / 2) + g + 8 * (i % 2);
    // A row past the block (another sequence's, or past the batch) sees
    // nothing and is not stored.
    mask[i] = r < q_end ? RowMask<int64_t>{r, seq_begin[r], prefix_end[r], branch_begin[r]}
                       : RowMask<int64_t>{r, 0, 0, r + 1};
  }
  const bf16* kh = k + int64_t{kvh} * HD;
  const bf16* vh = v + int64_t{kvh} * HD;
  LoadTile<HD, kRows, ld, kThreads>(sq, q + int64_t{h} * HD, q0, q_end, qs);
  LoadTile<HD, kKeys, ld, kThreads>(sk, kh, first, last + 1, kvs);
  LoadTile<HD, kKeys, ld, kThreads>(sv, vh, first, last + 1, kvs);
  CommitAsync();

  const float scale = rsqrtf(static_cast<float>(HD)) * 1.4426950408889634f;  // scores in log2 units
  // Q's A fragments of this warp's tiles, row 16·(MT·warp + mt) of the block.
  auto q_fragment = [&](uint32_t a[4], int mt, int kk) {
    LoadMatrix4(a, sq + (16 * (MT * warp + mt) + lane % 16) * ld + 16 * kk + 8 * (lane / 16));
  };
  uint32_t qf[C::Q_IN_REGISTERS ? MT : 1][C::Q_IN_REGISTERS ? HD / 16 : 1][4];
  float o[MT][HD / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < HD / 8; ++n) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
  float m[2 * MT], l[2 * MT];
#pragma unroll
  for (int i = 0; i < 2 * MT; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
  }
  const int tiles = static_cast<int>((last - first) / kKeys) + 1;
  for (int it = 0; it < tiles; ++it) {
    const int64_t j0 = first + int64_t{it} * kKeys;
    const int buf = it & 1;
    if (it + 1 < tiles) {  // the next tile loads while this one computes
      LoadTile<HD, kKeys, ld, kThreads>(sk + (buf ^ 1) * C::kv_elems, kh, j0 + kKeys, last + 1, kvs);
      LoadTile<HD, kKeys, ld, kThreads>(sv + (buf ^ 1) * C::kv_elems, vh, j0 + kKeys, last + 1, kvs);
      CommitAsync();
      WaitAsync<1>();
    } else {
      WaitAsync<0>();
    }
    __syncthreads();
    if constexpr (C::Q_IN_REGISTERS)
      if (it == 0)
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int kk = 0; kk < HD / 16; ++kk) q_fragment(qf[mt][kk], mt, kk);
    const bf16* kt = sk + buf * C::kv_elems;
    const bf16* vt = sv + buf * C::kv_elems;

    float s[MT][kKeys / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      uint32_t qk[MT][4];
      if constexpr (!C::Q_IN_REGISTERS)
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) q_fragment(qk[mt], mt, kk);
#pragma unroll
      for (int n2 = 0; n2 < kKeys / 16; ++n2) {
        uint32_t b[4];
        LoadMatrix4(b, kt + (16 * n2 + lane % 8 + 8 * (lane / 16)) * ld + 16 * kk + 8 * ((lane / 8) % 2));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          const uint32_t* a = C::Q_IN_REGISTERS ? qf[C::Q_IN_REGISTERS ? mt : 0][C::Q_IN_REGISTERS ? kk : 0] : qk[mt];
          Mma(s[mt][2 * n2], a, b[0], b[1]);
          Mma(s[mt][2 * n2 + 1], a, b[2], b[3]);
        }
      }
    }

    // Masks only where some row of the warp does not see the whole tile.
    bool sees_all = true;
#pragma unroll
    for (int i = 0; i < 2 * MT; ++i) sees_all = sees_all && mask[i].SeesAll(j0, j0 + kKeys - 1);
    const bool whole = __all_sync(0xffffffffu, sees_all);
    float base[2 * MT];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (!whole && !mask[2 * mt + e / 2].Sees(j0 + 8 * n + 2 * t + (e & 1))) s[mt][n][e] = -INFINITY;
          mx[e / 2] = fmaxf(mx[e / 2], s[mt][n][e]);
        }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = 2 * mt + i;
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
        const float m_new = fmaxf(m[r], mx[i] * scale);  // m: the row's maximum in scaled (log2) units
        // Until a row has seen a key its maximum is -inf: subtract 0 instead.
        base[r] = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = FastExp2(m[r] - base[r]);
        m[r] = m_new;
        l[r] *= alpha;  // this thread's columns; summed over the quad at the end
#pragma unroll
        for (int n = 0; n < HD / 8; ++n) {
          o[mt][n][2 * i] *= alpha;
          o[mt][n][2 * i + 1] *= alpha;
        }
      }
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[mt][n][e] = FastExp2(fmaf(s[mt][n][e], scale, -base[2 * mt + e / 2]));
          l[2 * mt + e / 2] += s[mt][n][e];
        }
    }

    // P's accumulator layout over two adjacent 8-key slices is the A
    // operand's layout for 16 keys.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        a[mt][0] = PackBf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        a[mt][1] = PackBf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        a[mt][2] = PackBf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        a[mt][3] = PackBf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int d2 = 0; d2 < HD / 16; ++d2) {
        uint32_t b[4];
        LoadMatrix4Transposed(b, vt + (16 * kk + lane % 8 + 8 * ((lane / 8) % 2)) * ld + 16 * d2 + 8 * (lane / 16));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Mma(o[mt][2 * d2], a[mt], b[0], b[1]);
          Mma(o[mt][2 * d2 + 1], a[mt], b[2], b[3]);
        }
      }
    }
    __syncthreads();  // this buffer is refilled two tiles on
  }

#pragma unroll
  for (int i = 0; i < 2 * MT; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }
#pragma unroll
  for (int i = 0; i < 2 * MT; ++i) {
    const int64_t r = mask[i].r;
    if (r >= q_end) continue;
    const float inv = 1.0f / l[i];
    bf16* dst = out + r * qs + int64_t{h} * HD + 2 * t;
#pragma unroll
    for (int n = 0; n < HD / 8; ++n)
      *reinterpret_cast<__nv_bfloat162*>(dst + 8 * n) =
          __floats2bfloat162_rn(o[i / 2][n][2 * (i % 2)] * inv, o[i / 2][n][2 * (i % 2) + 1] * inv);
  }
}

template <typename C>
void Launch(const bf16* q, const bf16* k, const bf16* v, const QueryBlocks& blocks, const int64_t* seq_begin,
            const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads, bf16* out,
            cudaStream_t s) {
  constexpr size_t bytes = C::smem_bytes;
  static const bool configured = cudaFuncSetAttribute(FlashAttentionKernel<C>,
                                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(bytes)) == cudaSuccess;
  (void)configured;  // a failure shows as the launch's error
  static_assert(C::ROWS == 16 || C::ROWS == 32 || C::ROWS == 64 || C::ROWS == 128, "a height QueryBlocks has");
  if (blocks.CountFor(C::ROWS) == 0) return;
  const dim3 grid(static_cast<unsigned>(blocks.CountFor(C::ROWS)), static_cast<unsigned>(q_heads));
  FlashAttentionKernel<C><<<grid, C::THREADS, bytes, s>>>(q, k, v, blocks.For(C::ROWS), seq_begin, prefix_end,
                                                         branch_begin,
                                                         static_cast<int>(q_heads), static_cast<int>(kv_heads), out);
  QSWEEP_KERNEL_CHECK();
}

// The instance the backend runs (measured against the others with
// tools/bench/attention_variants.cu on H200).
template <int HD>
using Chosen = Config<HD, 4, 1, 64, true, 2>;

}  // namespace

bool AttentionBf16(const bf16* q, const bf16* k, const bf16* v, int64_t rows, const QueryBlocks& blocks,
                   const int64_t* seq_begin,
                   const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                   int64_t head_dim, bf16* out, cudaStream_t s) {
  if (rows == 0) return true;
  switch (head_dim) {
    case 32: Launch<Chosen<32>>(q, k, v, blocks, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    case 64: Launch<Chosen<64>>(q, k, v, blocks, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    case 128: Launch<Chosen<128>>(q, k, v, blocks, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    default: return false;
  }
}

}  // namespace qsweep::kernels
