// The sum step of the GPU all-reduce: after an NCCL all-gather, add the
// ranks' buffers in the fixed tree order of ref::SumRanksInTreeOrder
// (src/backend/cpu/reference_ops.h), which the decoder's canonical parts
// rely on for tp-independent results.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qsweep::kernels {

inline constexpr int kMaxTreeRanks = 16;

// all: [ranks, n] (ranks <= kMaxTreeRanks) → out: [n]
void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out, cudaStream_t s);

// The same tree over separate buffers (count <= kMaxTreeRanks) of fp32 or
// bf16 elements, added in fp32 in one pass: out = Σ bufs, or out += Σ bufs
// when accumulating (the residual add of a row-parallel layer, after the
// whole sum, as the decoder adds it). out may be bufs[0] (fp32).
template <typename T>
void SumBuffersInTreeOrder(const T* const* bufs, int count, int64_t n, float* out, bool accumulate, cudaStream_t s);

}  // namespace qsweep::kernels
