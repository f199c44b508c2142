// Asymmetric b-bit integers with a zero point per group, b = 2..8.
#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

const LowbitKernels* LowbitIntAsymKernels(int bits) {
  using lowbit::Instance, lowbit::IntCodes;
  static constexpr LowbitKernels k[] = {
      Instance<IntCodes<2, true>>(), Instance<IntCodes<3, true>>(), Instance<IntCodes<4, true>>(),
      Instance<IntCodes<5, true>>(), Instance<IntCodes<6, true>>(), Instance<IntCodes<7, true>>(),
      Instance<IntCodes<8, true>>()};
  return bits >= 2 && bits <= 8 ? &k[bits - 2] : nullptr;
}

}  // namespace qsweep::kernels
