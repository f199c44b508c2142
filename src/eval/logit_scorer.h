// What the evaluation asks of a model: score chosen rows of a token batch
// against target tokens. One implementation runs a local decoder; the
// distributed one (src/parallel) runs a tensor-parallel group in lockstep.
#pragma once
#include <span>

#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "model/token_batch.h"

namespace qsweep {

class LogitScorer {
 public:
  virtual ~LogitScorer() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_batch_tokens() const = 0;
  // TokenBatch::align for batches given to Score.
  virtual int64_t sequence_alignment() const { return 1; }
  // Rows of the KV cache batches may address (SequenceLayout::cache_row); 0: none.
  virtual int64_t cache_rows() const { return 0; }
  // `pairing`: keep the final hidden states, or compare with a baseline's
  // (RowScores' exact token statistics; the decoder needs pair_baseline).
  virtual absl::StatusOr<RowScores> Score(const TokenBatch& batch, std::span<const int64_t> rows,
                                          std::span<const int32_t> targets, int topk, bool full_rows,
                                          const RowPairing& pairing = {}) = 0;
};

// A scorer over a decoder: the batch limits are the decoder's and its
// backend's.
class DecoderScorer : public LogitScorer {
 public:
  explicit DecoderScorer(Decoder* decoder) : decoder_(decoder) {}
  int64_t vocab_size() const override { return decoder_->config().vocab_size; }
  int64_t max_batch_tokens() const override { return decoder_->options().max_batch_tokens; }
  int64_t sequence_alignment() const override { return decoder_->backend()->SequenceAlignment(); }
  int64_t cache_rows() const override { return decoder_->options().cache_rows; }

 protected:
  Decoder* decoder_;
};

// A decoder on this process alone (tp == 1).
class LocalScorer : public DecoderScorer {
 public:
  using DecoderScorer::DecoderScorer;
  absl::StatusOr<RowScores> Score(const TokenBatch& batch, std::span<const int64_t> rows,
                                  std::span<const int32_t> targets, int topk, bool full_rows,
                                  const RowPairing& pairing = {}) override;
};

}  // namespace qsweep
