#include "eval/logit_scorer.h"

#include "core/status_macros.h"

namespace qsweep {

absl::StatusOr<RowScores> LocalScorer::Score(const TokenBatch& batch, std::span<const int64_t> rows,
                                             std::span<const int32_t> targets, int topk,
                                             bool full_rows) {
  std::vector<LogitStats> chunks;
  QSWEEP_RETURN_IF_ERROR(decoder_->Forward(batch, rows, targets, topk, full_rows, &chunks));
  return CombineLogitStats(chunks, topk, full_rows);
}

}  // namespace qsweep
