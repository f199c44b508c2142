// Element types of checkpoints, packed weights and run files, with exact
// scalar conversions to and from fp32 (round to nearest even).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/status/statusor.h"

namespace qsweep {

enum class DType : uint8_t { kF32, kF16, kBF16, kF8E4M3, kI8, kU8, kI32, kI64 };

std::string_view DTypeName(DType t);  // safetensors spelling: "F32", "BF16", ...
absl::StatusOr<DType> ParseDType(std::string_view safetensors_name);
int DTypeBytes(DType t);

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float BF16ToFloat(uint16_t h) { return BitsFloat(uint32_t{h} << 16); }

inline uint16_t FloatToBF16(float f) {
  uint32_t u = FloatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float F16ToFloat(uint16_t h);
uint16_t FloatToF16(float f);

// Rounds through bf16 / fp16 and back: what storing in that type loses.
inline float RoundBF16(float f) { return BF16ToFloat(FloatToBF16(f)); }
inline float RoundF16(float f) { return F16ToFloat(FloatToF16(f)); }

// Converts n elements of type `t` at `src` to fp32 (F32, F16, BF16 only).
void ConvertToFloat(DType t, const void* src, int64_t n, float* dst);

}  // namespace qsweep
