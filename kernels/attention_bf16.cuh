// Attention on tensor cores for models held in bf16, flash-attention-2
// style: a block takes 64 query rows of one head, four warps of 16 rows;
// K and V stream through shared memory in 64-key tiles, double-buffered with
// cp.async; scores and the output accumulate in fp32 registers of
// mma.sync m16n8k16 (the probabilities are rounded to bf16 for P·V, as
// flash-attention does); the online softmax never leaves registers. Same
// masks as kernels::Attention (attention.cuh): row r sees [seq_begin,
// prefix_end) ∪ [branch_begin, r]; GQA; scale 1/sqrt(head_dim).
// Reference: ref::Attention on the bf16 inputs, within bf16 tolerance
// (src/backend/cuda/cuda_backend_test.cc). Blocks never straddle a
// sequence (query_blocks.h): a row's result does not depend on its batch.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "query_blocks.h"

namespace qsweep::kernels {

// False (nothing launched) for head dims it has no instance for: 32, 64, 128.
bool AttentionBf16(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int64_t rows,
                   const QueryBlocks& blocks, const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads,
                   int64_t kv_heads, int64_t head_dim, __nv_bfloat16* out, cudaStream_t s);

}  // namespace qsweep::kernels
