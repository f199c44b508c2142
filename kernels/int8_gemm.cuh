// The integer products of the activation-quantized schemes (W8A8, W4A4, and
// W4A8 from its unpacked codes) on Hopper's int8 tensor cores (wgmma
// s8·s8→s32, twice the bf16 rate): y[r, c] = (float(Σ_k x[r, k]·w[c, k]) ·
// x_scale[r]) · w_scale[c], the CPU reference's numbers bit for bit (the
// int32 sums are exact, the two multiplications in its order; act_quant.cuh
// says how the codes are made). A row's result does not depend on the rest
// of its batch, nor on which path computed it.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "act_quant.cuh"

namespace qsweep::kernels {

// Whether the kernel is the faster path for a product of `rows` rows and
// `n` outputs: a tile is 128 rows by 256 outputs, one block per tile, and a
// block per SM at most (`sms`: the device's). Fewer rows leave most of a tile idle, and fewer
// tiles than half the SMs leave the rest of the GPU idle, and cuBLASLt was
// faster there: measured on one H200 at M=256, k/v 1024x8192 (8 tiles)
// took 59 us here against 22 us, down 8192x28672 (64 tiles) 174 against
// 134, while gate/up 28672x8192 (224 tiles) took 122 against 151.
bool Int8GemmPays(int64_t rows, int64_t n, int sms);

// Whether Int8Gemm takes these operands (else the caller's other path).
inline bool Int8GemmTakes(const void* x, const void* w, int64_t k, int64_t ldy) {
  return k % 16 == 0 && ldy % 2 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

// x: codes [rows, k] (row stride k), w: codes [n_padded, k]; k a multiple
// of 16 and both bases 16-byte aligned (the tensor copy engine's rule).
// y [rows, n], row stride ldy, as fp32, bf16 or added to fp32 (ScaledOut);
// nothing past column n is written.
void Int8Gemm(const int8_t* x, int64_t rows, const int8_t* w, int64_t n, int64_t n_padded, int64_t k,
              const float* x_scale, const float* w_scale, void* y, int64_t ldy, ScaledOut out, cudaStream_t s);

}  // namespace qsweep::kernels
