// Per-row scores from the logits' statistics: log p(target), logsumexp,
// whether the target is the argmax, top-K log-probs, and optionally full
// rows, combined from per-chunk statistics in a fixed order, so the result
// does not depend on which rank held which chunk.
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

// `chunks`: the statistics of every vocabulary chunk, in vocabulary order
// (from one rank, or gathered from a tensor-parallel group in rank order).
RowScores CombineLogitStats(std::span<const LogitStats> chunks, int topk, bool full_rows);

}  // namespace qsweep
