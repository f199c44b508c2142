// Random test inputs: n values from N(0, sd²), repeatable by seed.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace qsweep {

inline std::vector<float> Normal(int64_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

}  // namespace qsweep
