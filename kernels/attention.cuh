// Causal attention over a packed batch (SequenceLayout: row r attends to keys
// [seq_begin, prefix_end) ∪ [branch_begin, r]), GQA, scale 1/sqrt(head_dim),
// fp32 arithmetic over fp32 or bf16 activations (T). CPU reference: ref::Attention (src/backend/cpu/reference_ops.h).
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "query_blocks.h"

namespace qsweep::kernels {

inline constexpr int kMaxAttentionHeadDim = 256;

// Flash-attention style: a block holds a tile of 64 query rows of one head
// in shared memory and streams 32-key tiles of K and V through it with an
// online softmax, so no score matrix ever reaches device memory. Needs
// seq_begin non-decreasing over rows (as TokenBatch packs them).
// Query rows are taken in `blocks` (query_blocks.h: never across a
// sequence), so a row's result does not depend on the rest of the batch.
template <typename T>
void Attention(const T* q, const T* k, const T* v, int64_t rows, const QueryBlocks& blocks, const int64_t* seq_begin,
               const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
               int64_t head_dim, T* out, cudaStream_t s);

// The first kernel: a warp per (row, head), keys read straight from device
// memory. Kept as a second implementation to test the tiled one against.
template <typename T>
void AttentionRowwise(const T* q, const T* k, const T* v, int64_t rows, const int64_t* seq_begin,
                      const int64_t* prefix_end, const int64_t* branch_begin, int64_t q_heads, int64_t kv_heads,
                      int64_t head_dim, T* out, cudaStream_t s);

}  // namespace qsweep::kernels
