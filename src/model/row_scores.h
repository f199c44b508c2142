// Per-row scores from the logits' statistics: log p(target), logsumexp,
// whether the target is the argmax, top-K log-probs, and optionally full
// rows. With a vocab-parallel head each rank contributes the statistics of
// its vocabulary slice; combining them is exact.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace qsweep {

struct RowScores {
  int64_t rows = 0;
  int topk = 0;
  std::vector<float> target_logprob;  // [rows]
  std::vector<float> logsumexp;       // [rows]
  std::vector<uint8_t> target_is_argmax;  // [rows]
  std::vector<int32_t> topk_id;       // [rows, topk]
  std::vector<float> topk_logprob;    // [rows, topk]
  std::vector<float> logprobs;        // [rows, vocab] when full rows were asked for
};

// `per_rank` in tensor-parallel rank order (slices in vocabulary order).
RowScores CombineLogitStats(std::span<const LogitStats> per_rank, int topk, bool full_rows);

}  // namespace qsweep
