// The selector of the low-bit family, and the shape rules every instance
// shares.
#include <algorithm>

#include "lowbit/lowbit_gemm_impl.cuh"

namespace qsweep::kernels {

// About 8 blocks per SM, cutting the input dimension where the output rows
// alone give fewer: two to three waves at the 3 or 4 blocks an SM holds at
// these kernels' 60-90 registers and 46-82 KiB of shared memory, so that the last wave's idle SMs cost
// little and every SM streams codes from the first microsecond.
LowbitSplit LowbitSplitFor(int64_t out_padded, int64_t in_padded, int sms) {
  constexpr int64_t per_sm = 8;  // 4, 8 and 16 measured within 5% of each other on H200
  const int64_t blocks = lowbit::CeilDiv(out_padded / 16, lowbit::kWarps), chunks = in_padded / 256;
  const int64_t want = std::clamp<int64_t>(lowbit::CeilDiv(int64_t{sms} * per_sm, std::max<int64_t>(blocks, 1)), 1,
                                           std::max<int64_t>(chunks, 1));
  LowbitSplit s;
  s.chunks_per_slice = lowbit::CeilDiv(std::max<int64_t>(chunks, 1), want);
  s.slices = static_cast<int>(lowbit::CeilDiv(std::max<int64_t>(chunks, 1), s.chunks_per_slice));
  return s;
}

int64_t LowbitWorkspaceBytes(int64_t out_padded, int64_t in_padded, int sms) {
  const LowbitSplit s = LowbitSplitFor(out_padded, in_padded, sms);
  return lowbit::kCounterRegionBytes + (s.slices > 1 ? int64_t{s.slices} * kLowbitMaxRows * out_padded * 4 : 0);
}

const LowbitKernels* LowbitKernelsFor(LowbitFormat format, int bits) {
  switch (format) {
    case LowbitFormat::kIntSym: return LowbitIntSymKernels(bits);
    case LowbitFormat::kIntAsym: return LowbitIntAsymKernels(bits);
    case LowbitFormat::kBinary:
    case LowbitFormat::kTernary: return LowbitSignKernels(format);
    case LowbitFormat::kNf4:
    case LowbitFormat::kFp4: return LowbitCodebookKernels(format);
    case LowbitFormat::kFp8: return bits == 8 ? LowbitFp8Kernels() : nullptr;
  }
  return nullptr;
}

}  // namespace qsweep::kernels
