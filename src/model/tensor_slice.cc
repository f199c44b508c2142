#include "model/tensor_slice.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {

namespace {

absl::Status Bad(const Checkpoint& ckpt, std::string_view name, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s': %s", ckpt.source(), name, why));
}

// The slice's geometry, its range checked.
absl::StatusOr<TensorSlice> Resolve(const Checkpoint& ckpt, std::string_view name, int axis, int64_t begin,
                                    int64_t end) {
  const TensorInfo* info = ckpt.Find(name);
  if (!info)
    return absl::NotFoundError(absl::StrFormat("%s: no tensor '%s'", ckpt.source(), name));
  auto bad = [&](const std::string& why) { return Bad(ckpt, name, why); };
  TensorSlice s;
  s.info = info;
  if (info->shape.size() == 1) {
    s.rows = info->shape[0];
    s.cols = 1;
  } else if (info->shape.size() == 2) {
    s.rows = info->shape[0];
    s.cols = info->shape[1];
  } else {
    return bad("only 1-D and 2-D tensors can be sliced");
  }
  if (axis != 0 && !(axis == 1 && info->shape.size() == 2))
    return bad(absl::StrFormat("cannot slice a %d-D tensor along axis %d", info->shape.size(),
                               axis));
  const int64_t extent = axis == 0 ? s.rows : s.cols;
  if (begin < 0 || begin > end || end > extent)
    return bad(absl::StrFormat("slice [%d, %d) of axis %d is outside [0, %d)", begin, end, axis,
                               extent));
  s.row_begin = axis == 0 ? begin : 0;
  s.row_end = axis == 0 ? end : s.rows;
  s.col_begin = axis == 1 ? begin : 0;
  s.col_end = axis == 1 ? end : s.cols;
  return s;
}

}  // namespace

absl::StatusOr<TensorSlice> ResolveSlice(const Checkpoint& ckpt, std::string_view name, int axis,
                                         int64_t begin, int64_t end, size_t out_size) {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, Resolve(ckpt, name, axis, begin, end));
  if (static_cast<int64_t>(out_size) != s.numel())
    return Bad(ckpt, name, absl::StrFormat("output holds %d floats but the slice has %d", out_size, s.numel()));
  return s;
}

absl::StatusOr<TensorSlice> ResolveRows(const Checkpoint& ckpt, std::string_view name, int64_t begin, int64_t end) {
  return Resolve(ckpt, name, 0, begin, end);
}

absl::StatusOr<TensorSlice> ResolveBlockBF16(const Checkpoint& ckpt, std::string_view name, int64_t row_begin,
                                             int64_t row_end, int64_t col_begin, int64_t col_end, size_t out_size) {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, Resolve(ckpt, name, 0, row_begin, row_end));
  if (s.info->shape.size() != 2) return Bad(ckpt, name, "only a 2-D tensor is read as a block");
  if (s.info->dtype != DType::kBF16)
    return Bad(ckpt, name, absl::StrFormat("stored as %s, not bf16", DTypeName(s.info->dtype)));
  if (col_begin < 0 || col_begin > col_end || col_end > s.cols)
    return Bad(ckpt, name, absl::StrFormat("columns [%d, %d) are outside [0, %d)", col_begin, col_end, s.cols));
  s.col_begin = col_begin;
  s.col_end = col_end;
  if (static_cast<int64_t>(out_size) != s.numel())
    return Bad(ckpt, name, absl::StrFormat("output holds %d values but the block has %d", out_size, s.numel()));
  return s;
}

}  // namespace qsweep
