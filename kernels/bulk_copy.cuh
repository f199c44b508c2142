// Hopper's bulk copies (the TMA unit's one-dimensional form) and the
// transaction barriers that say when they have landed. One instruction of
// one lane moves a contiguous run of bytes (a multiple of 16, both ends
// 16-byte aligned) from global to shared memory, where cp.async needs one
// instruction per 16 bytes in every lane together with its address
// arithmetic: in a memory-bound kernel whose warps are short of issue
// slots, the copies' instructions leave the warps' schedule almost
// entirely. Each copy also costs the copy engine a fixed amount: runs of
// tens of bytes are better left to cp.async (the low-bit gemm measured
// that). A barrier is armed by one arrival that announces the bytes to
// expect; each copy counts its bytes off it as they arrive; waiting on its
// phase then sees the data (the wait acquires what the copies wrote).
// The count may go below zero while copies land before the arrival that
// announces them, so the order of the two does not matter.
#pragma once
#include <cstdint>

namespace qsweep::kernels::bulk {

// A barrier expecting `arrivals` arrivals per phase, at a shared-window
// address. Fence before other threads or the copy engine use it.
__device__ inline void InitBarrier(uint32_t bar, int arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
// Makes initialized barriers visible to the copy engine (then a __syncthreads
// for the other threads).
__device__ inline void FenceBarrierInit() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// One arrival that also announces `bytes` more to arrive in this phase.
__device__ inline void ArriveExpectBytes(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Waits until the phase of parity `parity` has completed.
__device__ inline void WaitPhase(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// `bytes` from global `src` to the shared-window address `dst`, counted off
// barrier `bar`. No L2 cache hint: nvcc 13.0 miscompiles the cache-hint
// forms of the asynchronous copies (an illegal instruction on sm_90).
__device__ inline void CopyToShared(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}

// The box of a two-dimensional tensor map (a __grid_constant__ kernel
// parameter) whose first corner is element (inner, outer), to the
// shared-window address `dst`, counted off barrier `bar`. Elements outside
// the tensor arrive as zeros and count as bytes like the others.
__device__ inline void TensorCopy2dToShared(uint32_t dst, const void* map, int32_t inner, int32_t outer,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(map), "r"(inner), "r"(outer), "r"(bar)
      : "memory");
}

// One arrival on the barrier (no bytes announced).
__device__ inline void Arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

}  // namespace qsweep::kernels::bulk
