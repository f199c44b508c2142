// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11): the
// value at any index is a pure function of (seed, stream, index), so any
// slice of any synthetic tensor is generated on its own, on any rank or
// device, identically. Only integer arithmetic and exact float operations are
// used, so CPU and GPU produce the same bits.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace qsweep {

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// Uniform in [0, 1) with 24 random bits.
float CounterUniform(uint64_t seed, uint64_t stream, uint64_t index);

// Approximately standard normal: the sum of four uniforms, centred and scaled
// to unit variance (Irwin-Hall). Bounded by |x| < 3.47, so no inf or wild
// outliers; exact float arithmetic, so reproducible everywhere.
float CounterNormal(uint64_t seed, uint64_t stream, uint64_t index);
// out[i] = CounterNormal(seed, stream, first + i) for i in [0, n), many
// times faster (synthetic checkpoints generate billions).
void CounterNormals(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out);

// A stable 64-bit stream id for a name (FNV-1a), e.g. a tensor's name.
uint64_t StreamId(std::string_view name);

}  // namespace qsweep
