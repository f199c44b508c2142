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
  // Every sequence starts on a multiple of this many rows; the gap before it
  // is filled with rows of token 0 that form a sequence of their own and are
  // never scored. A backend whose attention tiles keys from a sequence's
  // first row asks for it (Backend::SequenceAlignment), so that a row's
  // result does not depend on what was packed before it.
  int64_t align = 1;

  int64_t rows() const { return static_cast<int64_t>(tokens.size()); }
  // The rows the batch holds once sequences of these lengths are appended.
  int64_t RowsAfter(std::span<const int64_t> lengths) const;
  // Appends a causal sequence (positions from 0); returns its first row.
  int64_t AddSequence(std::span<const int32_t> seq);
  // Appends `context` once, then each branch, which sees the context and
  // itself (positions continue after the context). Returns the first row of
  // each branch; the context occupies the rows just before the first branch.
  std::vector<int64_t> AddShared(std::span<const int32_t> context,
                                 const std::vector<std::span<const int32_t>>& branches);
};

}  // namespace qsweep
