// Loads and stores of an activation element as fp32, for kernels written
// once for fp32 and bf16 activations.
#pragma once
#include <cuda_bf16.h>

namespace qsweep::kernels {

__device__ inline float Load(const float* p) { return *p; }
__device__ inline float Load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ inline void Store(float* p, float v) { *p = v; }
__device__ inline void Store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

}  // namespace qsweep::kernels
