// What the tensor-core attention kernels (attention_bf16.cu, mma.sync;
// attention_wgmma.cu, wgmma) share: asynchronous copies into shared memory,
// the exp2 and bf16 packing of the online softmax, and the row masks of a
// packed batch.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>

namespace qsweep::kernels::attn {

__device__ inline uint32_t SmemAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global → shared, zero-filled when !valid (rows past the batch).
// dst: a shared-window address (SmemAddress).
__device__ inline void CopyAsync16At(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ inline void CopyAsync16(void* dst, const void* src, bool valid) { CopyAsync16At(SmemAddress(dst), src, valid); }
__device__ inline void CommitAsync() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ inline void WaitAsync() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// 2^x on the special-function unit (flushing denormal results to zero, as
// flash-attention's exp2 does); 2^-inf = 0.
__device__ inline float FastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ inline uint32_t PackBf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// The keys row r sees (I: the row index type).
template <typename I>
struct RowMask {
  I r, seq_begin, prefix_end, branch_begin;
  __device__ bool Sees(I j) const { return (j >= seq_begin && j < prefix_end) || (j >= branch_begin && j <= r); }
  __device__ bool SeesAll(I j0, I j1) const {  // every key of [j0, j1]
    return (j0 >= branch_begin && j1 <= r) || (j0 >= seq_begin && j1 < prefix_end);
  }
};

}  // namespace qsweep::kernels::attn
