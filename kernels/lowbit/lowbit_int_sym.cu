// Symmetric b-bit integers, b = 2..8 (w2a16 .. w8a16).
#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

const LowbitKernels* LowbitIntSymKernels(int bits) {
  using lowbit::Instance, lowbit::IntCodes;
  static constexpr LowbitKernels k[] = {
      Instance<IntCodes<2, false>>(), Instance<IntCodes<3, false>>(), Instance<IntCodes<4, false>>(),
      Instance<IntCodes<5, false>>(), Instance<IntCodes<6, false>>(), Instance<IntCodes<7, false>>(),
      Instance<IntCodes<8, false>>()};
  return bits >= 2 && bits <= 8 ? &k[bits - 2] : nullptr;
}

}  // namespace qsweep::kernels
