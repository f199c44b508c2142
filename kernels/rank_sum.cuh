// The sum step of the GPU all-reduce: after an NCCL all-gather, add the
// ranks' buffers in the fixed tree order of ref::SumRanksInTreeOrder
// (src/backend/cpu/reference_ops.h), which the decoder's canonical parts
// rely on for tp-independent results.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace qsweep::kernels {

inline constexpr int kMaxTreeRanks = 16;

// all: [ranks, n] (ranks <= kMaxTreeRanks) → out: [n]
void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out, cudaStream_t s);

// The same tree over separate buffers (count <= kMaxTreeRanks), in place:
// bufs[0] = Σ bufs, one pass instead of count - 1 pairwise additions.
void SumBuffersInTreeOrder(float* const* bufs, int count, int64_t n, cudaStream_t s);

}  // namespace qsweep::kernels
