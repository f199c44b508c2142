#include "model/token_batch.h"

namespace qsweep {
namespace {

void AddRow(TokenBatch& b, int32_t token, int32_t position, int64_t seq_begin, int64_t prefix_end,
            int64_t branch_begin) {
  b.tokens.push_back(token);
  b.layout.positions.push_back(position);
  b.layout.seq_begin.push_back(seq_begin);
  b.layout.prefix_end.push_back(prefix_end);
  b.layout.branch_begin.push_back(branch_begin);
}

}  // namespace

int64_t TokenBatch::RowsAfter(std::span<const int64_t> lengths) const {
  int64_t r = rows();
  for (const int64_t n : lengths) r = (r + align - 1) / align * align + n;
  return r;
}

int64_t TokenBatch::AddSequence(std::span<const int32_t> seq) {
  if (const int64_t gap = (align - rows() % align) % align; gap > 0) {
    const int64_t filler = rows();
    for (int64_t i = 0; i < gap; ++i) AddRow(*this, 0, static_cast<int32_t>(i), filler, filler, filler);
  }
  const int64_t begin = rows();
  for (size_t i = 0; i < seq.size(); ++i) AddRow(*this, seq[i], static_cast<int32_t>(i), begin, begin, begin);
  return begin;
}

std::vector<int64_t> TokenBatch::AddShared(std::span<const int32_t> context,
                                           const std::vector<std::span<const int32_t>>& branches) {
  const int64_t begin = AddSequence(context), context_end = rows();
  const int32_t n = static_cast<int32_t>(context.size());
  std::vector<int64_t> firsts;
  for (const auto& branch : branches) {
    const int64_t first = rows();
    firsts.push_back(first);
    for (size_t i = 0; i < branch.size(); ++i)
      AddRow(*this, branch[i], n + static_cast<int32_t>(i), begin, context_end, first);
  }
  return firsts;
}

}  // namespace qsweep
