// Round-to-nearest quantization into the tiled layout (lowbit_quantize.cuh).
// Each helper below is the device twin of a host function named beside it;
// LowbitQuantizeTest compares the two on random weights bit for bit.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "launch_check.cuh"
#include "lowbit/lowbit_quantize.cuh"
#include "quant_twins.cuh"

namespace qsweep::kernels {
namespace {

using twin::F16Value;
using twin::Clamp;
using twin::Max;
using twin::Min;
using twin::RoundUpToF16;
using twin::ToF16;

constexpr int kThreads = 256;
constexpr float kFp8Max = 448.0f;  // quant/fp8.h kFp8E4M3Max

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t Align256(int64_t bytes) { return CeilDiv(bytes, 256) * 256; }
unsigned Blocks(int64_t threads) { return static_cast<unsigned>(CeilDiv(threads, kThreads)); }

// quant/fp8.cc Fp8E4M3ToFloat for the finite non-negative codes 0..126.
__device__ float Fp8Value(int code) {
  const int e = code >> 3, m = code & 7;
  return e == 0 ? ldexpf(static_cast<float>(m), -9) : ldexpf(static_cast<float>(8 + m), e - 10);
}

// quant/fp8.cc FloatToFp8E4M3: nearest code by search over the increasing
// non-negative values, ties to the even code.
__device__ uint8_t ToFp8(float x) {
  if (isnan(x)) return 0x7f;
  const uint8_t sign = signbit(x) ? 0x80 : 0;
  const float a = fabsf(x);
  if (a >= kFp8Max) return sign | 126;
  int first = 0, count = 127;  // upper_bound
  while (count > 0) {
    const int step = count / 2, it = first + step;
    if (!(a < Fp8Value(it))) {
      first = it + 1;
      count -= step + 1;
    } else {
      count = step;
    }
  }
  const int hi = first, lo = hi - 1;
  const float dl = __fsub_rn(a, Fp8Value(lo)), dh = __fsub_rn(Fp8Value(hi), a);
  const int code = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | static_cast<uint8_t>(code);
}

// quant/quantized_weights.cc NearestCode: the lowest code on a tie.
__device__ int NearestCode(const float* table, float v) {
  int best = 0;
  float best_d = fabsf(__fsub_rn(v, table[0]));
  for (int c = 1; c < 16; ++c) {
    const float d = fabsf(__fsub_rn(v, table[c]));
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

// Element v of whole column k as the quantizer sees it: scaled, then
// clamped to its cell's clip (DenseParts).
__device__ __forceinline__ float Transformed(const DenseParts& w, int64_t k, int64_t cell, float v) {
  if (w.column_scale) v = __fmul_rn(v, w.column_scale[k]);
  if (w.clip) v = Clamp(v, -w.clip[cell], w.clip[cell]);
  return v;
}

// The whole weight's element k of row n (in grid cell `cell`), walking k
// upward across parts without a division per element.
struct RowWalk {
  const DenseParts& w;
  int64_t n, part, col, cell;
  __device__ RowWalk(const DenseParts& parts, int64_t row, int64_t k, int64_t grid_cell)
      : w(parts), n(row), part(k / parts.width), col(k % parts.width), cell(grid_cell) {}
  __device__ float Next() {
    const float v = Transformed(w, part * w.width + col, cell, __bfloat162float(w.part[part][n * w.width + col]));
    if (++col == w.width) {
      ++part;
      col = 0;
    }
    return v;
  }
};

// QuantizeWeights' grid of one (row, group): the statistics in the CPU's
// order, then the scale of the format (IntGroupGrid for the integers).
__global__ void GridsKernel(LowbitQuantizeFormat f, DenseParts w, int64_t out, int64_t in, LowbitGrids g) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= out * g.groups) return;
  const int64_t n = idx / g.groups, gi = idx % g.groups, g0 = f.group > 0 ? f.group : in;
  const int64_t k0 = gi * g0, len = g0 < in - k0 ? g0 : in - k0;
  float absmax = 0, lo = INFINITY, hi = -INFINITY;
  double abs_sum = 0;
  RowWalk walk(w, n, k0, idx);
  for (int64_t i = 0; i < len; ++i) {
    const float v = walk.Next();
    absmax = Max(absmax, fabsf(v));
    lo = Min(lo, v);
    hi = Max(hi, v);
    abs_sum = __dadd_rn(abs_sum, static_cast<double>(fabsf(v)));
  }
  uint16_t sbits = 0;
  switch (f.kind) {
    case LowbitFormat::kIntSym:
    case LowbitFormat::kIntAsym: {  // IntGroupGrid
      const bool asymmetric = f.kind == LowbitFormat::kIntAsym;
      const twin::IntGrid grid = twin::IntGridOf(f.bits, asymmetric, absmax, lo, hi);
      sbits = grid.scale_bits;
      if (asymmetric) g.zeros[idx] = static_cast<uint8_t>(grid.zero);
      break;
    }
    case LowbitFormat::kBinary:
      sbits = ToF16(__double2float_rn(__ddiv_rn(abs_sum, static_cast<double>(len))));
      break;
    case LowbitFormat::kTernary: {
      const float delta = __double2float_rn(__ddiv_rn(__dmul_rn(0.7, abs_sum), static_cast<double>(len)));
      double kept_sum = 0;
      int64_t kept = 0;
      RowWalk again(w, n, k0, idx);
      for (int64_t i = 0; i < len; ++i) {
        const float a = fabsf(again.Next());
        if (a > delta) {
          kept_sum = __dadd_rn(kept_sum, static_cast<double>(a));
          ++kept;
        }
      }
      sbits = ToF16(kept ? __double2float_rn(__ddiv_rn(kept_sum, static_cast<double>(kept))) : 0.0f);
      g.thresholds[idx] = delta;
      break;
    }
    case LowbitFormat::kNf4:
    case LowbitFormat::kFp4: sbits = RoundUpToF16(absmax); break;
    case LowbitFormat::kFp8: sbits = RoundUpToF16(__fdiv_rn(absmax, kFp8Max)); break;
  }
  g.scale_bits[idx] = sbits;
}

// QuantizeWeights' code of v in its group (index idx of the grids).
__device__ uint32_t Code(const LowbitQuantizeFormat& f, const LowbitGrids& g, int64_t idx, float v) {
  const float s = F16Value(g.scale_bits[idx]);
  switch (f.kind) {
    case LowbitFormat::kIntSym: return twin::IntCode(f.bits, false, s, 0.0f, v);
    case LowbitFormat::kIntAsym: return twin::IntCode(f.bits, true, s, static_cast<float>(g.zeros[idx]), v);
    case LowbitFormat::kBinary: return v >= 0 ? 1u : 0u;
    case LowbitFormat::kTernary: {
      const float delta = g.thresholds[idx];
      return v > delta ? 2u : (v < -delta ? 0u : 1u);
    }
    case LowbitFormat::kNf4:
    case LowbitFormat::kFp4: return static_cast<uint32_t>(NearestCode(f.table, s > 0 ? __fdiv_rn(v, s) : 0.0f));
    case LowbitFormat::kFp8: return ToFp8(s > 0 ? __fdiv_rn(v, s) : 0.0f);
  }
  return 0;
}

// One lane of a tiled 16 x 256 block: its 128 codes in the layout's order
// (mma_tiled_weights.h: code i = 8·tile + e, pairs in the two 16-bit
// halves of the lane's word string), assembled in registers and stored as
// 16-byte words, four per q, coalesced across the warp.
template <int kBits>
__global__ void PartCodesKernel(LowbitQuantizeFormat f, DenseParts w, int64_t out, int p, LowbitGrids g,
                                uint32_t* codes, int64_t out_padded, int64_t chunks, int group_shift,
                                int64_t first_group) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= out_padded / 16 * chunks * 32) return;
  const int lane = static_cast<int>(idx % 32), gid = lane / 4, tig = lane % 4;
  const int64_t c = idx / 32 % chunks, nt = idx / 32 / chunks;
  const __nv_bfloat16* src = w.part[p];
  uint32_t words[4 * kBits] = {};
#pragma unroll
  for (int i = 0; i < 128; ++i) {
    const int tile = i / 8, e = i % 8, h = (e >> 1) & 1, j = (e & 1) | (((e >> 2) & 1) << 1);
    const int64_t n = nt * 16 + gid + 8 * h, k = c * 256 + (tile / 4) * 64 + tig * 16 + (tile % 4) * 4 + j;
    uint32_t code = 0;
    if (n < out && k < w.width) {
      const int64_t gi = first_group + (group_shift >= 0 ? k >> group_shift : 0), cell = n * g.groups + gi;
      code = Code(f, g, cell, Transformed(w, p * w.width + k, cell, __bfloat162float(src[n * w.width + k])));
    }
    const int stream_bit = (i >> 1) * kBits, lw = stream_bit / 16, shift = stream_bit % 16, half = i & 1;
    const int fits = kBits < 16 - shift ? kBits : 16 - shift;
    words[lw] |= (code & ((1u << fits) - 1)) << (shift + 16 * half);
    if (fits < kBits) words[lw + 1] |= (code >> fits) << (16 * half);
  }
  uint4* dst = reinterpret_cast<uint4*>(codes);
#pragma unroll
  for (int q = 0; q < kBits; ++q)
    dst[((nt * chunks + c) * kBits + q) * 32 + lane] =
        make_uint4(words[4 * q], words[4 * q + 1], words[4 * q + 2], words[4 * q + 3]);
}

// The part's scales (and zeros) transposed to [groups_padded][out_padded],
// zero past its rows and groups.
__global__ void PartScalesKernel(LowbitGrids g, int64_t out, int64_t part_groups, int64_t first_group,
                                 uint16_t* scales, uint8_t* zeros, int64_t out_padded, int64_t groups_padded) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= groups_padded * out_padded) return;
  const int64_t gi = idx / out_padded, n = idx % out_padded;
  const bool real = n < out && gi < part_groups;
  const int64_t at = n * g.groups + first_group + gi;
  scales[idx] = real ? g.scale_bits[at] : 0;
  if (zeros) zeros[idx] = real ? g.zeros[at] : 0;
}

// One thread per element of the one-part weight: its code's value on the
// grid (IntCodeValue), divided by the column's scale.
__global__ void FakeQuantizeKernel(LowbitQuantizeFormat f, DenseParts w, int64_t out, LowbitGrids g,
                                   __nv_bfloat16* dst) {
  const int64_t in = w.width, idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= out * in) return;
  const int64_t n = idx / in, k = idx % in, cell = n * g.groups + (f.group > 0 ? k / f.group : 0);
  const float v = Transformed(w, k, cell, __bfloat162float(w.part[0][idx]));
  const bool asymmetric = f.kind == LowbitFormat::kIntAsym;
  const float s = F16Value(g.scale_bits[cell]), zero = asymmetric ? static_cast<float>(g.zeros[cell]) : 0.0f;
  float q = twin::IntCodeValue(f.bits, asymmetric, s, zero, Code(f, g, cell, v));
  if (w.column_scale) q = __fdiv_rn(q, w.column_scale[k]);
  dst[idx] = __float2bfloat16_rn(q);
}

}  // namespace

void LowbitFakeQuantize(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, const LowbitGrids& grids,
                        __nv_bfloat16* dst, cudaStream_t stream) {
  if (f.kind != LowbitFormat::kIntSym && f.kind != LowbitFormat::kIntAsym) {
    std::fprintf(stderr, "qsweep: the AWQ candidate is for integer formats\n");
    std::abort();
  }
  if (w.count != 1) {
    std::fprintf(stderr, "qsweep: the AWQ candidate is of one part\n");
    std::abort();
  }
  LowbitQuantizeGrids(f, w, out, grids, stream);
  FakeQuantizeKernel<<<Blocks(out * w.width), kThreads, 0, stream>>>(f, w, out, grids, dst);
  QSWEEP_KERNEL_CHECK();
}

int64_t LowbitGridBytes(const LowbitQuantizeFormat& f, int64_t out, int64_t in) {
  const int64_t cells = out * CeilDiv(in, f.group > 0 ? f.group : in);
  return Align256(cells * 2) + Align256(cells) + Align256(cells * 4);
}

LowbitGrids LowbitGridsIn(void* scratch, const LowbitQuantizeFormat& f, int64_t out, int64_t in) {
  LowbitGrids g;
  g.groups = CeilDiv(in, f.group > 0 ? f.group : in);
  const int64_t cells = out * g.groups;
  char* base = static_cast<char*>(scratch);
  g.scale_bits = reinterpret_cast<uint16_t*>(base);
  g.zeros = reinterpret_cast<uint8_t*>(base + Align256(cells * 2));
  g.thresholds = reinterpret_cast<float*>(base + Align256(cells * 2) + Align256(cells));
  return g;
}

void LowbitQuantizeGrids(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, const LowbitGrids& grids,
                         cudaStream_t stream) {
  GridsKernel<<<Blocks(out * grids.groups), kThreads, 0, stream>>>(f, w, out, w.count * w.width, grids);
  QSWEEP_KERNEL_CHECK();
}

void LowbitQuantizePart(const LowbitQuantizeFormat& f, const DenseParts& w, int64_t out, int p,
                        const LowbitGrids& grids, uint32_t* codes, uint16_t* scales, uint8_t* zeros,
                        int64_t out_padded, int64_t in_padded, int64_t groups_padded, cudaStream_t stream) {
  const int64_t chunks = in_padded / 256, lanes = out_padded / 16 * chunks * 32;
  const int shift = f.group > 0 ? __builtin_ctzll(static_cast<unsigned long long>(f.group)) : -1;
  const int64_t first_group = f.group > 0 ? p * w.width / f.group : 0;
  const unsigned blocks = Blocks(lanes);
  switch (f.bits) {
#define QSWEEP_PART_CODES(B)                                                                                        \
  case B:                                                                                                         \
    PartCodesKernel<B><<<blocks, kThreads, 0, stream>>>(f, w, out, p, grids, codes, out_padded, chunks, shift,     \
                                                        first_group);                                             \
    break;
    QSWEEP_PART_CODES(1)
    QSWEEP_PART_CODES(2)
    QSWEEP_PART_CODES(3)
    QSWEEP_PART_CODES(4)
    QSWEEP_PART_CODES(5)
    QSWEEP_PART_CODES(6)
    QSWEEP_PART_CODES(7)
    QSWEEP_PART_CODES(8)
#undef QSWEEP_PART_CODES
    default:
      std::fprintf(stderr, "qsweep: no device quantizer for %d-bit codes\n", f.bits);
      std::abort();
  }
  QSWEEP_KERNEL_CHECK();
  const int64_t part_groups = f.group > 0 ? CeilDiv(w.width, f.group) : 1;
  PartScalesKernel<<<Blocks(groups_padded * out_padded), kThreads, 0, stream>>>(
      grids, out, part_groups, first_group, scales, zeros, out_padded, groups_padded);
  QSWEEP_KERNEL_CHECK();
}

}  // namespace qsweep::kernels
