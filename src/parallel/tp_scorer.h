// A LogitScorer over a tensor-parallel group: the leader (tp rank 0) sends
// each batch to the group, every rank runs its slice of the decoder, and the
// per-slice logit statistics (a few floats per row, not logits) are gathered
// to the leader and combined exactly. Followers serve in RunFollower() until
// the leader calls Stop().
#pragma once
#include "eval/logit_scorer.h"
#include "parallel/communicator.h"

namespace qsweep {

// What a rank sends its leader: its status, and when ok its chunks' statistics
// (each chunk's vocab_begin, then its arrays in LogitStats' ForEachArray order).
std::vector<uint8_t> EncodeRankStats(const absl::Status& status, const std::vector<LogitStats>& chunks);
// Appends the chunks of tensor-parallel rank `rank`, or returns its error.
absl::Status DecodeRankStats(const std::vector<uint8_t>& bytes, int rank, std::vector<LogitStats>* out);

class TensorParallelScorer : public DecoderScorer {
 public:
  TensorParallelScorer(Decoder* decoder, Communicator* group) : DecoderScorer(decoder), group_(group) {}
  absl::StatusOr<RowScores> Score(const TokenBatch& batch, std::span<const int64_t> rows,
                                  std::span<const int32_t> targets, int topk, bool full_rows,
                                  const RowPairing& pairing = {}) override;
  absl::Status RunFollower();
  void Stop();

 private:
  // Runs this rank's part; on the leader `all` receives every rank's chunks.
  // `hidden`: the leader's final hidden states, when the command keeps them.
  absl::Status ForwardAndGather(const std::vector<uint8_t>& command, std::vector<LogitStats>* all,
                                std::vector<float>* hidden = nullptr);
  Communicator* group_;
};

}  // namespace qsweep
