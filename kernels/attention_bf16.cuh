// Attention on tensor cores: the same masks and online softmax as
// kernels::Attention (attention.cuh), with Q, K, V and the probabilities
// rounded to bf16 for WMMA products (fp32 accumulation; scores, softmax
// statistics and the output stay fp32), as flash-attention runs a bf16
// model. The GPU backend uses it when the model's weights are bf16.
// Reference: ref::Attention on bf16-rounded inputs, within bf16 tolerance.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace qsweep::kernels {

// False (nothing launched) for head dims it has no instance for: 32, 64, 128.
bool AttentionBf16(const float* q, const float* k, const float* v, int64_t rows, const int64_t* seq_begin,
                   const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                   int64_t head_dim, float* out, cudaStream_t s);

}  // namespace qsweep::kernels
