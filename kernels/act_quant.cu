#include "act_quant.cuh"

#include <cuda_fp8.h>

#include "launch_check.cuh"

namespace qsweep::kernels {
namespace {

constexpr int kThreads = 256;

__device__ float ToFloat(float v) { return v; }
__device__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

// One block per row: the row's absmax (max is exact in any order, so the
// scale is the CPU's), then every code. IEEE division and rintf keep the
// codes the CPU's; nvcc contracts nothing here (no additions).
template <typename T>
__global__ void QuantizeRowsKernel(const T* __restrict__ x, int64_t cols, int64_t ldx, ActCode code,
                                   int8_t* __restrict__ codes, int64_t ld_codes, float* __restrict__ scales) {
  const T* row = x + blockIdx.x * ldx;
  int8_t* out = codes + blockIdx.x * ld_codes;
  float m = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) m = fmaxf(m, fabsf(ToFloat(row[j])));
  __shared__ float warp_max[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = m;
  __syncthreads();
  float absmax = 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) absmax = fmaxf(absmax, warp_max[w]);
  const float qmax = code == ActCode::kInt8 ? 127.0f : code == ActCode::kInt4 ? 7.0f : 448.0f;
  const float scale = __fdiv_rn(absmax, qmax);
  if (threadIdx.x == 0) scales[blockIdx.x] = scale;
  for (int64_t j = threadIdx.x; j < ld_codes; j += kThreads) {
    int8_t c = 0;
    if (j < cols && scale > 0.0f) {
      const float q = __fdiv_rn(ToFloat(row[j]), scale);
      if (code == ActCode::kFp8)
        c = static_cast<int8_t>(__nv_cvt_float_to_fp8(q, __NV_SATFINITE, __NV_E4M3));
      else
        c = static_cast<int8_t>(fminf(fmaxf(rintf(q), -qmax), qmax));
    }
    out[j] = c;
  }
}

__global__ void UnpackInt4Kernel(const uint8_t* __restrict__ packed, int64_t bytes, int8_t* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < bytes; i += int64_t{gridDim.x} * blockDim.x) {
    const uint8_t b = packed[i];
    // Sign extension of each nibble: shift it to the top of a signed byte
    // and back.
    out[2 * i] = static_cast<int8_t>(static_cast<int8_t>(b << 4) >> 4);
    out[2 * i + 1] = static_cast<int8_t>(static_cast<int8_t>(b) >> 4);
  }
}

template <typename A>
__global__ void ScaleProductKernel(const A* __restrict__ acc, int64_t rows, int64_t cols, int64_t ld_acc,
                                   const float* __restrict__ row_scale, const float* __restrict__ col_scale,
                                   void* __restrict__ y, int64_t ldy, ScaledOut out) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    // (acc · x scale) · w scale, unfused, as the CPU multiplies.
    const float v = __fmul_rn(__fmul_rn(static_cast<float>(acc[r * ld_acc + c]), row_scale[r]), col_scale[c]);
    if (out == ScaledOut::kBf16)
      static_cast<__nv_bfloat16*>(y)[r * ldy + c] = __float2bfloat16_rn(v);
    else if (out == ScaledOut::kF32)
      static_cast<float*>(y)[r * ldy + c] = v;
    else
      static_cast<float*>(y)[r * ldy + c] = __fadd_rn(static_cast<float*>(y)[r * ldy + c], v);
  }
}

int GridFor(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65536)); }

}  // namespace

template <typename T>
void QuantizeActivations(const T* x, int64_t rows, int64_t cols, int64_t ldx, ActCode code, int8_t* codes,
                         int64_t ld_codes, float* scales, cudaStream_t s) {
  if (rows == 0) return;
  QuantizeRowsKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, cols, ldx, code, codes, ld_codes, scales);
  QSWEEP_KERNEL_CHECK();
}
template void QuantizeActivations<float>(const float*, int64_t, int64_t, int64_t, ActCode, int8_t*, int64_t, float*,
                                         cudaStream_t);
template void QuantizeActivations<__nv_bfloat16>(const __nv_bfloat16*, int64_t, int64_t, int64_t, ActCode, int8_t*,
                                                 int64_t, float*, cudaStream_t);

void UnpackInt4(const uint8_t* packed, int64_t count, int8_t* out, cudaStream_t s) {
  if (count == 0) return;
  UnpackInt4Kernel<<<GridFor(count / 2), kThreads, 0, s>>>(packed, count / 2, out);
  QSWEEP_KERNEL_CHECK();
}

template <typename A>
void ScaleProduct(const A* acc, int64_t rows, int64_t cols, int64_t ld_acc, const float* row_scale,
                  const float* col_scale, void* y, int64_t ldy, ScaledOut out, cudaStream_t s) {
  if (rows * cols == 0) return;
  ScaleProductKernel<<<GridFor(rows * cols), kThreads, 0, s>>>(acc, rows, cols, ld_acc, row_scale, col_scale, y, ldy,
                                                                 out);
  QSWEEP_KERNEL_CHECK();
}
template void ScaleProduct<int32_t>(const int32_t*, int64_t, int64_t, int64_t, const float*, const float*, void*,
                                    int64_t, ScaledOut, cudaStream_t);
template void ScaleProduct<float>(const float*, int64_t, int64_t, int64_t, const float*, const float*, void*, int64_t,
                                  ScaledOut, cudaStream_t);

}  // namespace qsweep::kernels
