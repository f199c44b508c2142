// Device twins of the host quantizer's scalar steps, each named after the
// host function it equals bit for bit: explicit round-to-nearest intrinsics,
// so that no multiply-add is contracted, and the host's choice on ties,
// equal operands and signed zeros. Shared by round-to-nearest on the device
// (lowbit/lowbit_quantize.cu) and GPTQ's column loop (gptq.cu).
#pragma once
#include <cstdint>

#include <cuda_fp16.h>

namespace qsweep::kernels::twin {

// core/dtype.cc F16ToFloat: exact.
__device__ __forceinline__ float F16Value(uint16_t h) { return __half2float(__ushort_as_half(h)); }

// core/dtype.cc FloatToF16: round to nearest even, subnormals included.
__device__ __forceinline__ uint16_t ToF16(float f) {
  const uint32_t u = __float_as_uint(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;
  if (a >= 0x477ff000u) return sign | 0x7c00;
  if (a < 0x38800000u) return sign | static_cast<uint16_t>(rintf(__fmul_rn(__uint_as_float(a), 16777216.0f)));
  uint32_t v = a - (112u << 23);
  v += 0xfffu + ((v >> 13) & 1u);
  return sign | static_cast<uint16_t>(v >> 13);
}

// quant/quantized_weights.cc RoundUpToF16: the smallest fp16 >= x.
__device__ __forceinline__ uint16_t RoundUpToF16(float x) {
  uint16_t h = ToF16(x);
  if (F16Value(h) < x) ++h;
  return h;
}

// The host's std::min / std::max / std::clamp, whose choice on equal
// operands (and signed zeros) fminf and fmaxf do not promise.
__device__ __forceinline__ float Min(float a, float b) { return b < a ? b : a; }
__device__ __forceinline__ float Max(float a, float b) { return a < b ? b : a; }
__device__ __forceinline__ float Clamp(float v, float lo, float hi) { return v < lo ? lo : hi < v ? hi : v; }

// quant/quantized_weights.h IntGrid, for the integer formats.
struct IntGrid {
  uint16_t scale_bits = 0;
  float scale = 0, zero = 0;
};

// quant/quantized_weights.cc GroupGrid from a group's statistics (absmax,
// min and max of its values, taken in any order: each is exact).
__device__ __forceinline__ IntGrid IntGridOf(int bits, bool asymmetric, float absmax, float lo, float hi) {
  IntGrid g;
  if (asymmetric) {
    lo = Min(lo, 0.0f);
    hi = Max(hi, 0.0f);
    const int qmax = (1 << bits) - 1;
    g.scale_bits = RoundUpToF16(__fdiv_rn(__fsub_rn(hi, lo), static_cast<float>(qmax)));
    g.scale = F16Value(g.scale_bits);
    g.zero = g.scale > 0 ? Clamp(rintf(__fdiv_rn(-lo, g.scale)), 0.0f, static_cast<float>(qmax)) : 0.0f;
  } else {
    g.scale_bits = RoundUpToF16(__fdiv_rn(absmax, static_cast<float>((1 << (bits - 1)) - 1)));
    g.scale = F16Value(g.scale_bits);
  }
  return g;
}

// quant/quantized_weights.cc IntCode: v's stored code on the grid.
__device__ __forceinline__ uint32_t IntCode(int bits, bool asymmetric, float scale, float zero, float v) {
  if (asymmetric) {
    const float qmax = static_cast<float>((1 << bits) - 1);
    return static_cast<uint32_t>(scale > 0 ? Clamp(__fadd_rn(rintf(__fdiv_rn(v, scale)), zero), 0.0f, qmax) : zero);
  }
  const int qmax = (1 << (bits - 1)) - 1;
  const float q =
      scale > 0 ? Clamp(rintf(__fdiv_rn(v, scale)), static_cast<float>(-qmax - 1), static_cast<float>(qmax)) : 0.0f;
  return static_cast<uint32_t>(static_cast<int>(q) + (1 << (bits - 1)));
}

// quant/quantized_weights.cc IntCodeValue.
__device__ __forceinline__ float IntCodeValue(int bits, bool asymmetric, float scale, float zero, uint32_t code) {
  if (asymmetric) return __fmul_rn(__fsub_rn(static_cast<float>(code), zero), scale);
  return __fmul_rn(static_cast<float>(static_cast<int>(code) - (1 << (bits - 1))), scale);
}

}  // namespace qsweep::kernels::twin
