#include "eval/logit_scorer.h"

#include "core/status_macros.h"

namespace qsweep {

absl::StatusOr<RowScores> LocalScorer::Score(const TokenBatch& batch, std::span<const int64_t> rows,
                                             std::span<const int32_t> targets, int topk, bool full_rows,
                                             const RowPairing& pairing) {
  std::vector<LogitStats> chunks;
  std::vector<float> hidden;
  QSWEEP_RETURN_IF_ERROR(decoder_->Forward(batch, rows, targets, topk, full_rows, &chunks, pairing, &hidden));
  RowScores scores = CombineLogitStats(chunks, topk, full_rows);
  scores.final_hidden = std::move(hidden);
  return scores;
}

}  // namespace qsweep
