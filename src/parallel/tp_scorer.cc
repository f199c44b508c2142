#include "parallel/tp_scorer.h"

#include "absl/strings/str_format.h"
#include "core/byte_buffer.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

enum Command : uint8_t { kScore = 1, kStop = 2 };

}  // namespace

std::vector<uint8_t> EncodeRankStats(const absl::Status& status, const std::vector<LogitStats>& chunks) {
  ByteWriter w;
  w.Put<uint8_t>(status.ok());
  if (!status.ok()) {
    w.PutString(std::string(status.message()));
    return std::move(w.bytes());
  }
  w.Put<uint64_t>(chunks.size());
  for (const LogitStats& s : chunks) {
    w.Put<int64_t>(s.vocab_begin);
    ForEachArray([&](const auto& v) { w.PutVector(v); }, s);
  }
  return std::move(w.bytes());
}

absl::Status DecodeRankStats(const std::vector<uint8_t>& bytes, int rank, std::vector<LogitStats>* out) {
  ByteReader r(bytes);
  if (!r.Get<uint8_t>())
    return absl::InternalError(absl::StrFormat("tensor-parallel rank %d: %s", rank, r.GetString()));
  const uint64_t n = r.Get<uint64_t>();
  for (uint64_t i = 0; i < n; ++i) {
    LogitStats& s = out->emplace_back();
    s.vocab_begin = r.Get<int64_t>();
    ForEachArray([&](auto& v) { v = r.GetVector<typename std::remove_reference_t<decltype(v)>::value_type>(); }, s);
  }
  return absl::OkStatus();
}

absl::Status TensorParallelScorer::ForwardAndGather(
    const std::vector<uint8_t>& command, std::vector<LogitStats>* all, std::vector<float>* hidden) {
  ByteReader r(command);
  r.Get<uint8_t>();
  TokenBatch batch;
  batch.tokens = r.GetVector<int32_t>();
  batch.layout.positions = r.GetVector<int32_t>();
  batch.layout.seq_begin = r.GetVector<int64_t>();
  batch.layout.prefix_end = r.GetVector<int64_t>();
  batch.layout.branch_begin = r.GetVector<int64_t>();
  batch.layout.cache_row = r.GetVector<int64_t>();
  batch.layout.cache_begin = r.GetVector<int64_t>();
  const auto rows = r.GetVector<int64_t>();
  const auto targets = r.GetVector<int32_t>();
  const int topk = r.Get<int32_t>();
  const bool full = r.Get<uint8_t>();
  // Every rank recomputes its slice of the baseline's logits; only the
  // leader, which writes the run, keeps the hidden states.
  const bool keep_hidden = r.Get<uint8_t>();
  const auto base_hidden = r.GetVector<float>();
  const auto base_hidden_bf16 = r.GetVector<uint16_t>();
  const RowPairing pairing{.keep_hidden = keep_hidden && hidden != nullptr,
                           .base_hidden = base_hidden,
                           .base_hidden_bf16 = base_hidden_bf16};
  std::vector<LogitStats> mine;
  const absl::Status status = decoder_->Forward(batch, rows, targets, topk, full, &mine, pairing, hidden);
  const auto gathered = group_->Gather(EncodeRankStats(status, mine), 0);
  if (all)
    for (size_t i = 0; i < gathered.size(); ++i)
      QSWEEP_RETURN_IF_ERROR(DecodeRankStats(gathered[i], static_cast<int>(i), all));
  return status;
}

absl::StatusOr<RowScores> TensorParallelScorer::Score(const TokenBatch& batch,
                                                      std::span<const int64_t> rows,
                                                      std::span<const int32_t> targets, int topk,
                                                      bool full_rows, const RowPairing& pairing) {
  ByteWriter w;
  w.Put<uint8_t>(kScore);
  w.PutVector(batch.tokens);
  w.PutVector(batch.layout.positions);
  w.PutVector(batch.layout.seq_begin);
  w.PutVector(batch.layout.prefix_end);
  w.PutVector(batch.layout.branch_begin);
  w.PutVector(batch.layout.cache_row);
  w.PutVector(batch.layout.cache_begin);
  w.PutVector(std::vector<int64_t>(rows.begin(), rows.end()));
  w.PutVector(std::vector<int32_t>(targets.begin(), targets.end()));
  w.Put<int32_t>(topk);
  w.Put<uint8_t>(full_rows);
  w.Put<uint8_t>(pairing.keep_hidden);
  w.PutVector(std::vector<float>(pairing.base_hidden.begin(), pairing.base_hidden.end()));
  w.PutVector(std::vector<uint16_t>(pairing.base_hidden_bf16.begin(), pairing.base_hidden_bf16.end()));
  group_->Broadcast(w.bytes(), 0);
  std::vector<LogitStats> all;
  std::vector<float> hidden;
  QSWEEP_RETURN_IF_ERROR(ForwardAndGather(w.bytes(), &all, &hidden));
  RowScores scores = CombineLogitStats(all, topk, full_rows);
  scores.final_hidden = std::move(hidden);
  return scores;
}

absl::Status TensorParallelScorer::RunFollower() {
  for (;;) {
    std::vector<uint8_t> command;
    group_->Broadcast(command, 0);
    if (command.empty() || command[0] == kStop) return absl::OkStatus();
    // Errors travel to the leader inside the gathered statistics.
    (void)ForwardAndGather(command, nullptr);
  }
}

void TensorParallelScorer::Stop() {
  std::vector<uint8_t> command = {kStop};
  group_->Broadcast(command, 0);
}

}  // namespace qsweep
