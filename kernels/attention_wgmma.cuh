// Attention for bf16 models on Hopper's warpgroup MMA (wgmma): a block takes
// 64 query rows of one head per warpgroup; K and V stream through shared
// memory in key tiles (128-byte swizzle, double-buffered with cp.async);
// S = Q·Kᵀ reads both operands from shared memory, P·V takes P from the
// registers S was computed in (rounded to bf16, as flash-attention does),
// the online softmax stays in registers. V is first transposed per kv head
// into a scratch buffer so that both products read K-major tiles. Same
// masks as kernels::Attention (attention.cuh): row r sees [seq_begin,
// prefix_end) ∪ [branch_begin, r]; GQA; scale 1/sqrt(head_dim).
// Reference: ref::Attention on the bf16 inputs, within bf16 tolerance
// (src/backend/cuda/cuda_backend_test.cc); tools/bench/attention_variants.cu
// sets its instances against the mma.sync kernel (attention_bf16.cuh).
// Blocks never straddle a sequence and key tiles start at the sequence's
// first row (a multiple of 8, TokenBatch::align): a row's result does not
// depend on its batch (query_blocks.h).
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "query_blocks.h"

namespace qsweep::kernels {

// Bytes of the transposed-V scratch AttentionWgmma needs (0: no instance).
int64_t AttentionWgmmaScratchBytes(int64_t rows, int64_t kv_heads, int64_t head_dim);

// False (nothing launched) for head dims it has no instance for (64, 128)
// or more rows than it indexes. q, k, v, out: rows of 16-byte aligned heads.
bool AttentionWgmma(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int64_t rows,
                    const QueryBlocks& blocks, const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads,
                    int64_t kv_heads, int64_t head_dim, __nv_bfloat16* v_transposed, __nv_bfloat16* out,
                    cudaStream_t s);

}  // namespace qsweep::kernels
