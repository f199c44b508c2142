// CUDA kernels of the decoder's elementwise and reduction stages. The
// residual stream, sums of parts and logits are fp32; the other activations
// are fp32 or bf16 (a bf16 model's compute precision), so the kernels that
// touch them come in both element types, computing in fp32. Each has a CPU reference in src/backend/cpu/reference_ops.h
// (or cpu_backend.cc for the logit statistics) and a randomized test against
// it (src/backend/cuda/cuda_backend_test.cc), run on the GPU machine.
// Each computes a row from that row alone, in an order that does not depend
// on the number of rows: the batch-invariance rule (kernels/query_blocks.h).
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qsweep::kernels {

void Embed(const float* table, int64_t dim, const int32_t* ids, int64_t rows, float* out, cudaStream_t s);
void Embed(const __nv_bfloat16* table, int64_t dim, const int32_t* ids, int64_t rows, float* out, cudaStream_t s);
using bf16 = __nv_bfloat16;

// T is float or bf16 in the templates below (instantiated for both).
template <typename T>
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, T* out, cudaStream_t s);
template <typename T>
void Rotary(T* x, int64_t rows, int64_t heads, int64_t head_dim, const float* inv_freq, const int32_t* positions,
            cudaStream_t s);
template <typename T>
void SwiGlu(const T* gate, const T* up, int64_t n, T* out, cudaStream_t s);
template <typename T>
void AddBias(const float* b, T* y, int64_t rows, int64_t cols, cudaStream_t s);
template <typename T>
void SliceColumns(const T* x, int64_t rows, int64_t cols, int64_t begin, int64_t width, T* out, cudaStream_t s);
void Add(const float* x, float* y, int64_t n, cudaStream_t s);
template <typename T>  // float, __nv_bfloat16
void GatherRows(const T* x, int64_t cols, const int64_t* rows, int64_t n, T* out, cudaStream_t s);
void ToBf16(const float* x, int64_t n, __nv_bfloat16* out, cudaStream_t s);
// Per row r of logits[:, col_begin:col_end) (row stride ld): max, Σexp(x−max),
// the target's logit (NaN outside), and the top-k (ids offset by vocab_begin,
// ties to the lower id). k <= 64.
void LogitStats(const float* logits, int64_t rows, int64_t ld, int64_t col_begin, int64_t col_end,
                const int32_t* targets, int64_t vocab_begin, int k, float* max, float* sum_exp, float* target_logit,
                int32_t* topk_id, float* topk_logit, cudaStream_t s);

}  // namespace qsweep::kernels
