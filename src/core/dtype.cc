#include "core/dtype.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {

namespace {
struct DTypeRow {
  DType type;
  std::string_view name;
  int bytes;
};
constexpr DTypeRow kRows[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kI32, "I32", 4},   {DType::kI64, "I64", 8},
};
}  // namespace

std::string_view DTypeName(DType t) {
  for (const auto& r : kRows)
    if (r.type == t) return r.name;
  return "?";
}

int DTypeBytes(DType t) {
  for (const auto& r : kRows)
    if (r.type == t) return r.bytes;
  return 0;
}

absl::StatusOr<DType> ParseDType(std::string_view name) {
  for (const auto& r : kRows)
    if (r.name == name) return r.type;
  return absl::InvalidArgumentError(absl::StrFormat("unknown dtype '%s'", name));
}

float F16ToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ff;
  if (exp == 0) {
    // Zero or subnormal: man * 2^-24, exact in fp32.
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return BitsFloat(sign | 0x7f800000u | (man << 13));
  return BitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t FloatToF16(float f) {
  const uint32_t u = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00;  // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): round abs * 2^24 to an integer, ties to even.
    const float scaled = BitsFloat(abs) * 16777216.0f;  // exact: power of two
    const float r = std::nearbyint(scaled);           // default mode: ties to even
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t v = abs - (112u << 23);  // rebias exponent
  v += 0xfffu + ((v >> 13) & 1u);   // round to nearest even at bit 13
  return sign | static_cast<uint16_t>(v >> 13);
}

void ConvertToFloat(DType t, const void* src, int64_t n, float* dst) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    // A tensor's bytes in a file need not be 2-byte aligned (safetensors
    // only asks offsets to be in range): read each element by memcpy.
    case DType::kBF16: {
      const auto* s = static_cast<const unsigned char*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, s + 2 * i, 2);
        dst[i] = BF16ToFloat(v);
      }
      return;
    }
    case DType::kF16: {
      const auto* s = static_cast<const unsigned char*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, s + 2 * i, 2);
        dst[i] = F16ToFloat(v);
      }
      return;
    }
    default:
      QSWEEP_CHECK(false && "ConvertToFloat: unsupported dtype");
  }
}

}  // namespace qsweep
