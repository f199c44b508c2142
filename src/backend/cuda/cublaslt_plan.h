// What the backend's cuBLASLt GEMMs share (the bf16 GEMMs of
// cuda_backend.cc and the int8 / fp8 ones of act_quant_gemm.cc): the status
// check, a plan's descriptors, and the alignment the heuristic is told.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <cublasLt.h>

// A failing cuBLASLt call on shapes the backend built is a broken invariant:
// abort with the call, file and line.
#define QSWEEP_LT_CHECK(expr)                                                                             \
  do {                                                                                                    \
    const cublasStatus_t _s = (expr);                                                                     \
    if (_s != CUBLAS_STATUS_SUCCESS) {                                                                    \
      std::fprintf(stderr, "qsweep: cuBLASLt error %d at %s:%d: %s\n", static_cast<int>(_s), __FILE__, __LINE__, \
                   #expr);                                                                                \
      std::abort();                                                                                       \
    }                                                                                                     \
  } while (0)

namespace qsweep {

// A matmul descriptor, the layouts of A, B and C (= D), and the algorithm
// chosen for them; destroyed with the plan.
struct LtPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  LtPlan() = default;
  LtPlan(const LtPlan&) = delete;
  LtPlan& operator=(const LtPlan&) = delete;
  ~LtPlan() {
    if (desc) cublasLtMatmulDescDestroy(desc);
    for (auto l : {a, b, c})
      if (l) cublasLtMatrixLayoutDestroy(l);
  }
};

// The largest power of two <= 256 that divides every address of an operand
// (its base and, when batched, the base plus any multiple of the stride).
inline uint32_t OperandAlignment(const void* p, int64_t stride_bytes) {
  const uint64_t bits = reinterpret_cast<uintptr_t>(p) | static_cast<uint64_t>(stride_bytes) | 256;
  return static_cast<uint32_t>(bits & (~bits + 1));
}

}  // namespace qsweep
