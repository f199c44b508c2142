// How the attention kernels cut a packed batch into blocks of query rows:
// never across a sequence, so that a row's keys are visited in tiles
// anchored at its own sequence's first row, whatever else the batch holds
// (with sequences starting on 8-row boundaries, TokenBatch::align). That
// makes a row's attention independent of its batch: the batch-invariance
// rule every kernel of the forward keeps (docs/ARCHITECTURE.md).
//
// Host code (no device functions; C++17 for nvcc): the GPU backend builds the tables once
// per layout, one per block height, and every attention call reads them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace qsweep::kernels {

struct QueryBlock {
  int32_t begin, end;  // query rows [begin, end) of one sequence
};

// The tables on the device, for block heights 16 << i rows.
struct QueryBlocks {
  static constexpr int kHeights = 4;  // 16, 32, 64, 128 rows
  const QueryBlock* table[kHeights] = {};
  int64_t count[kHeights] = {};

  static constexpr int Index(int rows) { return rows == 16 ? 0 : rows == 32 ? 1 : rows == 64 ? 2 : 3; }
  const QueryBlock* For(int rows) const { return table[Index(rows)]; }
  int64_t CountFor(int rows) const { return count[Index(rows)]; }
};

// The blocks of at most `height` rows of every sequence of the layout
// (seq_begin per row, non-decreasing), the last rows of long sequences
// first: they see the most keys.
inline std::vector<QueryBlock> SequenceQueryBlocks(const std::vector<int64_t>& seq_begin, int height) {
  std::vector<QueryBlock> blocks;
  const int64_t rows = static_cast<int64_t>(seq_begin.size());
  for (int64_t s = 0; s < rows;) {
    int64_t e = s;
    while (e < rows && seq_begin[e] == seq_begin[s]) ++e;
    for (int64_t b = s; b < e; b += height)
      blocks.push_back({static_cast<int32_t>(b), static_cast<int32_t>(std::min(e, b + height))});
    s = e;
  }
  std::stable_sort(blocks.begin(), blocks.end(), [&](const QueryBlock& a, const QueryBlock& b) {
    return a.end - seq_begin[a.begin] > b.end - seq_begin[b.begin];
  });
  return blocks;
}

}  // namespace qsweep::kernels
