// fp32 GEMM of the CPU reference linear (packed_linear.h): C[m,n] = A[m,k] · B[n,k]ᵀ (+ C when
// accumulate). B is a weight matrix in PyTorch's [out, in] layout, so every
// dot product reads two contiguous rows.
#pragma once
#include <cstdint>

namespace qsweep {

void GemmNT(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
            bool accumulate = false);

// The plain triple loop (double accumulation): the specification GemmNT is tested against.
void GemmNTReference(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

}  // namespace qsweep
