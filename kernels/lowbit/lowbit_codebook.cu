// NF4 and FP4: 4-bit indices into a 16-entry codebook (one instance; the
// table travels with the weights).
#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

const LowbitKernels* LowbitCodebookKernels(LowbitFormat format) {
  static constexpr LowbitKernels k = lowbit::Instance<lowbit::CodebookCodes>();
  return format == LowbitFormat::kNf4 || format == LowbitFormat::kFp4 ? &k : nullptr;
}

}  // namespace qsweep::kernels
