// A packed batch of token rows and the attention layout that goes with it.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace qsweep {

struct TokenBatch {
  std::vector<int32_t> tokens;
  SequenceLayout layout;

  int64_t rows() const { return static_cast<int64_t>(tokens.size()); }
  // Appends a causal sequence (positions from 0); returns its first row.
  int64_t AddSequence(std::span<const int32_t> seq);
  // Appends `context` once, then each branch, which sees the context and
  // itself (positions continue after the context). Returns the first row of
  // each branch; the context occupies the rows just before the first branch.
  std::vector<int64_t> AddShared(std::span<const int32_t> context,
                                 const std::vector<std::span<const int32_t>>& branches);
};

}  // namespace qsweep
