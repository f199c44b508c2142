#include "core/counter_rng.h"

namespace qsweep {

namespace {
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = uint64_t{a} * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}
}  // namespace

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kMul0, c[0], &hi0, &lo0);
    MulHiLo(kMul1, c[2], &hi1, &lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

static std::array<uint32_t, 4> Block(uint64_t seed, uint64_t stream, uint64_t index) {
  return Philox4x32({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                     static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

float CounterUniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(Block(seed, stream, index)[0] >> 8) * (1.0f / 16777216.0f);
}

float CounterNormal(uint64_t seed, uint64_t stream, uint64_t index) {
  const auto r = Block(seed, stream, index);
  // Sum in integers (26 bits) and convert once, so the result is the same
  // bits on every platform.
  const int64_t sum = int64_t{r[0] >> 8} + (r[1] >> 8) + (r[2] >> 8) + (r[3] >> 8);
  // Mean of the sum is 4 * (2^24 - 1) / 2; each uniform has variance 1/12, so
  // the sum of four has variance 1/3 in units of 2^24: scale by sqrt(3) / 2^24.
  const double centred = static_cast<double>(sum) - 2.0 * 16777215.0;
  return static_cast<float>(centred * (1.7320508075688772 / 16777216.0));
}

uint64_t StreamId(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Sixteen counters at a time, each step of Philox4x32 over all sixteen
// before the next, in plain arrays: the compiler turns the lanes into SIMD
// multiplies (32x32->64 bits) where CounterNormal's one block at a time
// cannot. The same operations on the same values as CounterNormal.
void CounterNormals(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out) {
  constexpr int kLanes = 16;
  const uint32_t s0 = static_cast<uint32_t>(stream), s1 = static_cast<uint32_t>(stream >> 32);
  for (int64_t at = 0; at < n; at += kLanes) {
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t index = first + static_cast<uint64_t>(at + l);
      c0[l] = static_cast<uint32_t>(index);
      c1[l] = static_cast<uint32_t>(index >> 32);
      c2[l] = s0;
      c3[l] = s1;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      for (int l = 0; l < kLanes; ++l) {
        const uint64_t p0 = uint64_t{kMul0} * c0[l], p1 = uint64_t{kMul1} * c2[l];
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
        c1[l] = static_cast<uint32_t>(p1);
        c3[l] = static_cast<uint32_t>(p0);
        c0[l] = n0;
        c2[l] = n2;
      }
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const int64_t m = n - at < kLanes ? n - at : kLanes;
    for (int l = 0; l < m; ++l) {
      const int64_t sum = int64_t{c0[l] >> 8} + (c1[l] >> 8) + (c2[l] >> 8) + (c3[l] >> 8);
      const double centred = static_cast<double>(sum) - 2.0 * 16777215.0;
      out[at + l] = static_cast<float>(centred * (1.7320508075688772 / 16777216.0));
    }
  }
}

}  // namespace qsweep
