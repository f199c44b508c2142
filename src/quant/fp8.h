// float8 e4m3 ("e4m3fn" as in PyTorch and NVIDIA's FP8): 1 sign, 4 exponent
// (bias 7), 3 mantissa bits; no infinities; 0x7F/0xFF are NaN; largest
// finite value 448. Encoding rounds to nearest, ties to even, and saturates.
#pragma once
#include <cstdint>

namespace qsweep {

inline constexpr float kFp8E4M3Max = 448.0f;

float Fp8E4M3ToFloat(uint8_t code);
uint8_t FloatToFp8E4M3(float x);

}  // namespace qsweep
