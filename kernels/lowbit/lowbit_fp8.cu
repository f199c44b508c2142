// fp8 e4m3 weights with bf16 activations (W8A16 in fp8).
#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

const LowbitKernels* LowbitFp8Kernels() {
  static constexpr LowbitKernels k = lowbit::Instance<lowbit::Fp8Codes>();
  return &k;
}

}  // namespace qsweep::kernels
