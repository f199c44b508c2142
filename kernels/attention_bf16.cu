#include "attention_bf16.cuh"

#include <cmath>

#include <cuda_bf16.h>
#include <mma.h>

namespace qsweep::kernels {
namespace {

using namespace nvcuda;
using bf16 = __nv_bfloat16;

constexpr int kRows = 64, kKeys = 64, kWarps = 4, kThreads = 32 * kWarps;

// Shared-memory layout of one block (64 query rows of one head): bf16 Q, K, V
// tiles, fp32 scores, bf16 probabilities, fp32 output accumulator. Strides
// are padded to break bank conflicts and keep every WMMA pointer 32-byte
// aligned.
template <int HD>
struct Layout {
  static constexpr int ldh = HD + 8, lds = kKeys + 4, ldp = kKeys + 8, ldo = HD + 4;
  static constexpr size_t q = 0, k = q + kRows * ldh * 2, v = k + kKeys * ldh * 2, s = v + kKeys * ldh * 2,
                          p = s + kRows * lds * 4, o = p + kRows * ldp * 2, bytes = o + kRows * ldo * 4;
};

// Warp w owns query rows [16w, 16w + 16) of the tile: their scores S = Q Kᵀ
// and output O += P V on tensor cores. For the softmax, lanes 2i and 2i + 1
// hold row 16w + i, 32 keys each.
template <int HD>
__global__ void __launch_bounds__(kThreads)
    WmmaAttentionKernel(const float* q, const float* k, const float* v, int64_t rows, const int64_t* seq_begin,
                        const int64_t* prefix_end, const int64_t* branch_begin, int q_heads, int kv_heads,
                        float* out) {
  using L = Layout<HD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sq = reinterpret_cast<bf16*>(smem + L::q);
  bf16* sk = reinterpret_cast<bf16*>(smem + L::k);
  bf16* sv = reinterpret_cast<bf16*>(smem + L::v);
  float* ss = reinterpret_cast<float*>(smem + L::s);
  bf16* sp = reinterpret_cast<bf16*>(smem + L::p);
  float* so = reinterpret_cast<float*>(smem + L::o);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int h = blockIdx.y, kvh = h / (q_heads / kv_heads);
  const int64_t q0 = blockIdx.x * int64_t{kRows};
  const int64_t qs = int64_t{q_heads} * HD, kvs = int64_t{kv_heads} * HD;
  const int64_t last = min(q0 + kRows, rows) - 1, first = seq_begin[q0];
  const int row = 16 * warp + lane / 2, half = lane & 1;
  const int64_t r = q0 + row;
  const bool valid = r < rows;
  const int64_t sb = valid ? seq_begin[r] : 0, pe = valid ? prefix_end[r] : 0, bb = valid ? branch_begin[r] : 0;
  // Four values per load (HD is a multiple of 16, rows of q, k, v start on
  // 16-byte boundaries), stored as two bf16 pairs.
  for (int i = tid; i < kRows * HD / 4; i += kThreads) {
    const int rr = (4 * i) / HD, d = (4 * i) % HD;
    const float4 x = q0 + rr < rows ? *reinterpret_cast<const float4*>(q + (q0 + rr) * qs + int64_t{h} * HD + d)
                                    : make_float4(0, 0, 0, 0);
    auto* dst = reinterpret_cast<__nv_bfloat162*>(sq + rr * L::ldh + d);
    dst[0] = __floats2bfloat162_rn(x.x, x.y);
    dst[1] = __floats2bfloat162_rn(x.z, x.w);
    *reinterpret_cast<float4*>(so + rr * L::ldo + d) = make_float4(0, 0, 0, 0);
  }
  const float scale = rsqrtf(static_cast<float>(HD));
  float m = -INFINITY, l = 0.0f;
  for (int64_t j0 = first; j0 <= last; j0 += kKeys) {
    __syncthreads();  // every warp is done with the previous K and V
    for (int i = tid; i < kKeys * HD / 4; i += kThreads) {
      const int kk = (4 * i) / HD, d = (4 * i) % HD;
      const int64_t j = j0 + kk;
      const float4 zero = make_float4(0, 0, 0, 0);
      const float4 a = j <= last ? *reinterpret_cast<const float4*>(k + j * kvs + int64_t{kvh} * HD + d) : zero;
      const float4 b = j <= last ? *reinterpret_cast<const float4*>(v + j * kvs + int64_t{kvh} * HD + d) : zero;
      auto* dk = reinterpret_cast<__nv_bfloat162*>(sk + kk * L::ldh + d);
      auto* dv = reinterpret_cast<__nv_bfloat162*>(sv + kk * L::ldh + d);
      dk[0] = __floats2bfloat162_rn(a.x, a.y);
      dk[1] = __floats2bfloat162_rn(a.z, a.w);
      dv[0] = __floats2bfloat162_rn(b.x, b.y);
      dv[1] = __floats2bfloat162_rn(b.z, b.w);
    }
    __syncthreads();
    for (int n = 0; n < kKeys / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b;  // Kᵀ
        wmma::load_matrix_sync(a, sq + 16 * warp * L::ldh + 16 * kk, L::ldh);
        wmma::load_matrix_sync(b, sk + 16 * n * L::ldh + 16 * kk, L::ldh);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(ss + 16 * warp * L::lds + 16 * n, acc, L::lds, wmma::mem_row_major);
    }
    __syncwarp();
    float* srow = ss + row * L::lds + 32 * half;
    float mx = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const int64_t j = j0 + 32 * half + c;
      const bool visible = valid && j <= last && ((j >= sb && j < pe) || (j >= bb && j <= r));
      srow[c] = visible ? srow[c] * scale : -INFINITY;
      mx = fmaxf(mx, srow[c]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_new = fmaxf(m, mx);
    const float alpha = m_new == -INFINITY ? 1.0f : expf(m - m_new);
    float psum = 0.0f;
    for (int c = 0; c < 32; ++c) {
      const float p = srow[c] == -INFINITY ? 0.0f : expf(srow[c] - m_new);
      sp[row * L::ldp + 32 * half + c] = __float2bfloat16(p);
      psum += p;
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    l = l * alpha + psum;
    m = m_new;
    if (alpha != 1.0f)  // once a row's maximum settles, most tiles leave it alone
      for (int d = half; d < HD; d += 2) so[row * L::ldo + d] *= alpha;
    __syncwarp();
    for (int n = 0; n < HD / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::load_matrix_sync(o, so + 16 * warp * L::ldo + 16 * n, L::ldo, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b;
        wmma::load_matrix_sync(a, sp + 16 * warp * L::ldp + 16 * kk, L::ldp);
        wmma::load_matrix_sync(b, sv + 16 * kk * L::ldh + 16 * n, L::ldh);
        wmma::mma_sync(o, a, b, o);
      }
      wmma::store_matrix_sync(so + 16 * warp * L::ldo + 16 * n, o, L::ldo, wmma::mem_row_major);
    }
    __syncwarp();
  }
  if (!valid) return;
  for (int d = half; d < HD; d += 2) out[r * qs + int64_t{h} * HD + d] = so[row * L::ldo + d] / l;
}

template <int HD>
void Launch(const float* q, const float* k, const float* v, int64_t rows, const int64_t* seq_begin,
            const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads, float* out,
            cudaStream_t s) {
  constexpr size_t bytes = Layout<HD>::bytes;
  static const bool configured = cudaFuncSetAttribute(WmmaAttentionKernel<HD>,
                                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(bytes)) == cudaSuccess;
  (void)configured;  // a failure shows as the launch's error
  const dim3 grid(static_cast<unsigned>((rows + kRows - 1) / kRows), static_cast<unsigned>(q_heads));
  WmmaAttentionKernel<HD><<<grid, kThreads, bytes, s>>>(q, k, v, rows, seq_begin, prefix_end, branch_begin,
                                                        static_cast<int>(q_heads), static_cast<int>(kv_heads), out);
}

}  // namespace

bool AttentionBf16(const float* q, const float* k, const float* v, int64_t rows, const int64_t* seq_begin,
                   const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                   int64_t head_dim, float* out, cudaStream_t s) {
  if (rows == 0) return true;
  switch (head_dim) {
    case 32: Launch<32>(q, k, v, rows, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    case 64: Launch<64>(q, k, v, rows, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    case 128: Launch<128>(q, k, v, rows, seq_begin, prefix_end, branch_begin, q_heads, kv_heads, out, s); return true;
    default: return false;
  }
}

}  // namespace qsweep::kernels
