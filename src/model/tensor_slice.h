// The checked geometry of one Checkpoint::ReadSlice request, shared by all
// readers: a 1-D tensor is seen as n rows of one column, so every reader
// copies rows [row_begin, row_end) x columns [col_begin, col_end).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"

namespace qsweep {

struct TensorSlice {
  const TensorInfo* info = nullptr;
  int64_t rows = 0, cols = 0;  // the tensor as a matrix
  int64_t row_begin = 0, row_end = 0;
  int64_t col_begin = 0, col_end = 0;
  int64_t out_cols() const { return col_end - col_begin; }
  int64_t numel() const { return (row_end - row_begin) * out_cols(); }
};

// Errors (unknown tensor, bad axis, range outside the tensor, `out_size` not
// the slice's size) name the checkpoint's source and the tensor.
absl::StatusOr<TensorSlice> ResolveSlice(const Checkpoint& ckpt, std::string_view name, int axis,
                                         int64_t begin, int64_t end, size_t out_size);
// Rows [begin, end) of a tensor, checked as ResolveSlice checks them (for
// Checkpoint::ReadStoredRows, which has no output buffer to size).
absl::StatusOr<TensorSlice> ResolveRows(const Checkpoint& ckpt, std::string_view name, int64_t begin, int64_t end);

// A block of rows and columns of a 2-D tensor stored as bf16, checked as
// ResolveSlice checks a slice (for Checkpoint::ReadBlockBF16); `out_size`
// must be the block's size.
absl::StatusOr<TensorSlice> ResolveBlockBF16(const Checkpoint& ckpt, std::string_view name, int64_t row_begin,
                                             int64_t row_end, int64_t col_begin, int64_t col_end, size_t out_size);

}  // namespace qsweep
