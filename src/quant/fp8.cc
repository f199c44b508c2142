#include "quant/fp8.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace qsweep {

float Fp8E4M3ToFloat(uint8_t code) {
  const bool neg = code & 0x80;
  const int exp = (code >> 3) & 0xf, man = code & 0x7;
  if (exp == 15 && man == 7) return NAN;
  const float mag = exp == 0 ? std::ldexp(static_cast<float>(man) / 8.0f, -6)
                             : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return neg ? -mag : mag;
}

uint8_t FloatToFp8E4M3(float x) {
  if (std::isnan(x)) return 0x7f;
  // The 127 non-negative finite values in code order are increasing, so the
  // nearest one is found by search; a tie goes to the even code.
  static const std::array<float, 127> kValues = [] {
    std::array<float, 127> v{};
    for (int c = 0; c < 127; ++c) v[c] = Fp8E4M3ToFloat(static_cast<uint8_t>(c));
    return v;
  }();
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  if (a >= kFp8E4M3Max) return sign | 126;
  const int hi = static_cast<int>(std::upper_bound(kValues.begin(), kValues.end(), a) - kValues.begin());
  const int lo = hi - 1;  // kValues[lo] <= a < kValues[hi]
  const float dl = a - kValues[lo], dh = kValues[hi] - a;
  const int code = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | static_cast<uint8_t>(code);
}

}  // namespace qsweep
