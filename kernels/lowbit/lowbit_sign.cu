// Binary (w1a16) and ternary (t2a16) codes.
#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

const LowbitKernels* LowbitSignKernels(LowbitFormat format) {
  static constexpr LowbitKernels binary = lowbit::Instance<lowbit::BinaryCodes>();
  static constexpr LowbitKernels ternary = lowbit::Instance<lowbit::TernaryCodes>();
  return format == LowbitFormat::kBinary ? &binary : format == LowbitFormat::kTernary ? &ternary : nullptr;
}

}  // namespace qsweep::kernels
