// One dequantization functor per weight format: a code and its group's
// parameters to the fp32 value quantized_weights.h defines. Each value is
// exact in fp32 where the reference's is (an integer of at most 9 bits
// times an fp16 scale needs 20 of fp32's 24 bits); the codebooks' products
// round once in fp32, as the reference rounds them. The caller rounds the
// value to bf16 once, so GPU and CPU weights agree bit for bit.
//
// Interface: kBits (bits per code), kTable (whether Value reads the
// 16-entry codebook the kernel keeps in shared memory), kPairs (whether the
// gemm takes the pair path below: PairOf, ValuePair), kWide (whether it
// takes the wide path below: WideOffset, WideOffsetOf, WidePair), Of (a
// group's scale and offset for one row, from its stored fp16 scale and
// uint8 zero point, which symmetric formats ignore), Value.
//
// The wide path, for groups of 64 inputs and more (or one scale per row):
// the gemm's operands are the integers t = c - z themselves, exact in bf16
// (|t| < 256), and each group's scale multiplies the fp32 sums of its
// 64-input blocks, since a block never straddles two groups. The weights
// it computes with are then the reference's fp32 values s·t exactly (an
// integer of at most 9 bits times an fp16 scale), not their bf16 rounding,
// and a pair costs the code extraction and one subtraction instead of the
// exact scaling's four bf16x2 instructions. Groups of 16 and 32 share an
// MMA with other groups (the inputs' permutation puts four 16-input runs
// in each k16 step), so they keep the pair path.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <type_traits>

#include "lowbit/lowbit_gemm.cuh"

namespace qsweep::kernels::lowbit {

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

// (a & mask) | c in one LOP3: written out because nvcc emits an AND and an
// OR for it when both constants are immediates.
template <uint32_t kMaskBits>
__device__ __forceinline__ uint32_t AndOr(uint32_t a, uint32_t c) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "n"(kMaskBits), "r"(c));
  return d;
}

// Codes 2p and 2p + 1 in the low and high halves of one register, each
// ORed with 0x4300 (bf16 128.0, whose ulp is 1): the bf16 pair
// (128 + c0, 128 + c1). Shifting the whole word keeps the halves apart:
// what crosses from one half into the other lands on bits the masks drop.
template <int B>
__device__ __forceinline__ uint32_t MagicPair(const uint32_t* w, int p) {
  constexpr uint32_t kMask = (1u << B) - 1;
  const int bit = p * B, word = bit >> 4, shift = bit & 15;
  const uint32_t magic = 0x43004300u;
  if (shift + B <= 16) return AndOr<kMask * 0x10001u>(w[word] >> shift, magic);
  const uint32_t m1 = (1u << (16 - shift)) - 1, m2 = kMask & ~m1;
  return ((w[word] >> shift) & (m1 * 0x10001u)) | ((w[word + 1] << (16 - shift)) & (m2 * 0x10001u)) | magic;
}

// d.byte[i] = byte sel.nibble[i] of {a (bytes 0-3), b (bytes 4-7)}.
__device__ __forceinline__ uint32_t Prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}

struct GroupParams {
  float scale, offset;  // offset: a format's own (integer formats: 2^23 + zero point)
};

// The pair path (kPairs): formats whose weights are (c - z)·s with
// |c - z| < 64 dequantize two codes per bf16x2 instruction, exactly as the
// fp32 path rounds them. The scale s (fp16, 11 significant bits) is split
// as s = hi + lo with hi = bf16(s) and lo = bf16(s - hi): the remainder
// is a multiple of s's last fp16 bit no larger than half of bf16's, so it
// has at most 2 significant bits and lo holds it exactly. With t = c - z
// exact in bf16 (the magic pair minus 128 + z), t·lo has at most 6 + 2
// significant bits: exact in bf16. fma(t, hi, t·lo) then rounds the exact
// t·hi + t·lo = t·s once: the bf16 of the fp32 value, bit for bit.
struct PairParams {
  __nv_bfloat162 offset, hi, lo;  // offset: 128 + z in both halves
};
__device__ __forceinline__ PairParams SplitScale(float s, float offset) {
  const __nv_bfloat16 hi = __float2bfloat16_rn(s), lo = __float2bfloat16_rn(s - __bfloat162float(hi));
  return {__bfloat162bfloat162(__float2bfloat16_rn(offset)), __bfloat162bfloat162(hi), __bfloat162bfloat162(lo)};
}
__device__ __forceinline__ uint32_t Bits(__nv_bfloat162 v) { return *reinterpret_cast<const uint32_t*>(&v); }
__device__ __forceinline__ __nv_bfloat162 Bf162(uint32_t v) { return *reinterpret_cast<const __nv_bfloat162*>(&v); }
// t·s for the pair t (exact bf16 integers of magnitude < 64).
__device__ __forceinline__ uint32_t ScalePair(__nv_bfloat162 t, const PairParams& g) {
  return Bits(__hfma2(t, g.hi, __hmul2(t, g.lo)));
}


// c as fp32 without the quarter-rate integer conversion: 0x4B000000 is
// 2^23, whose ulp is 1, so the bits 0x4B000000 | c are the float 2^23 + c;
// subtracting 2^23 + z (exact: both below 2^24) leaves c - z exactly. The
// mask that extracts c and this OR fuse into one LOP3.
constexpr float kMagic = 8388608.0f;
__device__ __forceinline__ float IntValue(uint32_t c, const GroupParams& g) {
  return (__uint_as_float(c | 0x4B000000u) - g.offset) * g.scale;
}

// b-bit integers: W = (c - z)·s, z the zero point (asymmetric) or the fixed
// kZero (2^(b-1) for symmetric codes; ternary is the 2-bit case with 1).
template <int B, bool Asymmetric, int kZero = (1 << (B - 1))>
struct IntCodes {
  static constexpr int kBits = B;
  static constexpr bool kTable = false, kPairs = B <= 6;
  __device__ static float ZeroPoint(float stored) { return Asymmetric ? stored : static_cast<float>(kZero); }
  __device__ static PairParams PairOf(float scale, float zero) { return SplitScale(scale, 128 + ZeroPoint(zero)); }
  __device__ static uint32_t ValuePair(uint32_t magic, const PairParams& g) {
    return ScalePair(__hsub2(Bf162(magic), g.offset), g);
  }
  __device__ static GroupParams Of(float scale, float zero) { return {scale, kMagic + ZeroPoint(zero)}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float*) { return IntValue(c, g); }
  // Wide: up to 7 bits, t = (128 + c) - (128 + z) from the magic pair, one
  // HSUB2 (128 + c < 256 is exact in bf16, whose ulp there is 1). 8 bits do
  // not fit under the bf16 magic: each code is PRMTed into the fp32 2^23 + c,
  // 2^23 + z subtracted exactly, and the pair rounded to bf16 (exact: |t| <
  // 256) in one conversion.
  static constexpr bool kWide = true;
  using WideOffset = std::conditional_t<(B <= 7), __nv_bfloat162, float>;
  __device__ static WideOffset WideOffsetOf(float zero) {
    if constexpr (B <= 7) return __bfloat162bfloat162(__float2bfloat16_rn(128 + ZeroPoint(zero)));
    else return kMagic + ZeroPoint(zero);
  }
  // Pair p: codes 2p and 2p + 1 (p a constant after unrolling).
  __device__ static uint32_t WidePair(const uint32_t* cw, int p, WideOffset o) {
    if constexpr (B <= 7) {
      return Bits(__hsub2(Bf162(MagicPair<B>(cw, p)), o));
    } else {
      // Codes 2p and 2p + 1: bytes p % 2 and p % 2 + 2 of word p / 2.
      const uint32_t word = cw[p / 2];
      const float lo = __uint_as_float(Prmt(word, 0x4B000000u, 0x7440u + p % 2)) - o;
      const float hi = __uint_as_float(Prmt(word, 0x4B000000u, 0x7442u + p % 2)) - o;
      return Bits(__floats2bfloat162_rn(lo, hi));
    }
  }
};

// Ternary: codes 0, 1, 2 for -s, 0, +s.
using TernaryCodes = IntCodes<2, false, 1>;

// Binary: 1 = +s, 0 = -s.
struct BinaryCodes {
  static constexpr int kBits = 1;
  static constexpr bool kTable = false, kPairs = true;
  __device__ static PairParams PairOf(float scale, float) { return SplitScale(scale, 128); }
  // t = 2c - 1 from c = magic - 128 (both exact).
  __device__ static uint32_t ValuePair(uint32_t magic, const PairParams& g) {
    const __nv_bfloat162 c = __hsub2(Bf162(magic), g.offset);
    return ScalePair(__hfma2(c, __float2bfloat162_rn(2.0f), __float2bfloat162_rn(-1.0f)), g);
  }
  __device__ static GroupParams Of(float scale, float) { return {scale, 0}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float*) { return c ? g.scale : -g.scale; }
  // Wide: t = 2c - 1 = ±1 built as bits: each half's code moved to its
  // sign bit, inverted, over bf16 1.0 (0x3F80), in one shift and one LOP3.
  static constexpr bool kWide = true;
  using WideOffset = int;
  __device__ static WideOffset WideOffsetOf(float) { return 0; }
  __device__ static uint32_t WidePair(const uint32_t* cw, int p, WideOffset) {
    const uint32_t v = cw[p >> 4] << (15 - (p & 15));  // codes 2p, 2p + 1 at bits 15 and 31
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xAE;\n" : "=r"(d) : "r"(v), "n"(0x80008000u), "r"(0x3F803F80u));  // (~v & b) | c
    return d;
  }
};

// NF4 / FP4: W = table[c]·s, the format's codebook (LowbitWeights::table)
// copied to shared memory by the kernel. Sixteen entries lie in sixteen
// banks, so a warp's lookups never conflict.
struct CodebookCodes {
  static constexpr int kBits = 4;
  static constexpr bool kTable = true, kPairs = false, kWide = false;
  __device__ static GroupParams Of(float scale, float) { return {scale, 0}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float* table) { return table[c] * g.scale; }
};

// fp8 e4m3 weights (weight-only): W = fp8(c)·s; the conversion is exact.
struct Fp8Codes {
  static constexpr int kBits = 8;
  static constexpr bool kTable = false, kPairs = false, kWide = false;
  __device__ static GroupParams Of(float scale, float) { return {scale, 0}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float*) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), __NV_E4M3);
    return __half2float(__half(h)) * g.scale;
  }
};

}  // namespace qsweep::kernels::lowbit
