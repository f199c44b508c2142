#include "quant/gemm.h"

#include <algorithm>

namespace qsweep {
namespace {

// Tiles sized so that a block of B rows (kTileN x kTileK floats = 64 KiB)
// stays in L2 while every row of A streams past it; 4 rows of A at a time
// reuse each loaded B element four times from registers.
constexpr int64_t kTileN = 64;
constexpr int64_t kTileK = 256;

inline void Dot4(const float* a0, const float* a1, const float* a2, const float* a3,
                 const float* b, int64_t k, float* out0, float* out1, float* out2, float* out3) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t p = 0; p < k; ++p) {
    s0 += a0[p] * b[p];
    s1 += a1[p] * b[p];
    s2 += a2[p] * b[p];
    s3 += a3[p] * b[p];
  }
  *out0 += s0;
  *out1 += s1;
  *out2 += s2;
  *out3 += s3;
}

inline float Dot1(const float* a, const float* b, int64_t k) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t p = 0; p < k; ++p) s += a[p] * b[p];
  return s;
}

}  // namespace

void GemmNT(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
            bool accumulate) {
  if (!accumulate) std::fill(c, c + m * n, 0.0f);
  const int64_t n_tiles = (n + kTileN - 1) / kTileN;
#pragma omp parallel for schedule(static) if (m * n * k > (1 << 16))
  for (int64_t t = 0; t < n_tiles; ++t) {
    const int64_t j0 = t * kTileN, j1 = std::min(n, j0 + kTileN);
    for (int64_t p0 = 0; p0 < k; p0 += kTileK) {
      const int64_t kk = std::min(kTileK, k - p0);
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {
        const float* a0 = a + i * k + p0;
        for (int64_t j = j0; j < j1; ++j)
          Dot4(a0, a0 + k, a0 + 2 * k, a0 + 3 * k, b + j * k + p0, kk, &c[i * n + j],
               &c[(i + 1) * n + j], &c[(i + 2) * n + j], &c[(i + 3) * n + j]);
      }
      for (; i < m; ++i)
        for (int64_t j = j0; j < j1; ++j) c[i * n + j] += Dot1(a + i * k + p0, b + j * k + p0, kk);
    }
  }
}

void GemmNTReference(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += double{a[i * k + p]} * b[j * k + p];
      c[i * n + j] = static_cast<float>(s);
    }
}

}  // namespace qsweep
