// One dequantization functor per weight format: a code and its group's
// parameters to the fp32 value quantized_weights.h defines. Each value is
// exact in fp32 where the reference's is (an integer of at most 9 bits
// times an fp16 scale needs 20 of fp32's 24 bits); the codebooks' products
// round once in fp32, as the reference rounds them. The caller rounds the
// value to bf16 once, so GPU and CPU weights agree bit for bit.
//
// Interface: kBits (bits per code), kTable (whether Value reads the
// 16-entry codebook the kernel keeps in shared memory), kPairs (whether the
// gemm takes the pair path below: PairOf, ValuePair), Of (a group's scale
// and offset for one row, from its stored fp16 scale and uint8 zero point,
// which symmetric formats ignore), Value.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "lowbit/lowbit_gemm.cuh"

namespace qsweep::kernels::lowbit {

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
};

// NF4 / FP4: W = table[c]·s, the format's codebook (LowbitWeights::table)
// copied to shared memory by the kernel. Sixteen entries lie in sixteen
// banks, so a warp's lookups never conflict.
struct CodebookCodes {
  static constexpr int kBits = 4;
  static constexpr bool kTable = true, kPairs = false;
  __device__ static GroupParams Of(float scale, float) { return {scale, 0}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float* table) { return table[c] * g.scale; }
};

// fp8 e4m3 weights (weight-only): W = fp8(c)·s; the conversion is exact.
struct Fp8Codes {
  static constexpr int kBits = 8;
  static constexpr bool kTable = false, kPairs = false;
  __device__ static GroupParams Of(float scale, float) { return {scale, 0}; }
  __device__ static float Value(uint32_t c, const GroupParams& g, const float*) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), __NV_E4M3);
    return __half2float(__half(h)) * g.scale;
  }
};

}  // namespace qsweep::kernels::lowbit
