// One fixed 7-token sequence scored by a decoder loaded on a backend (the CPU's
// unless given):
// what the checkpoint tests compare between two checkpoints or two ways of
// loading one.
#pragma once
#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/decoder.h"
#include "model/row_scores.h"

namespace qsweep::testing {

struct FixedSequenceScores {
  std::vector<float> logprobs;  // full rows, every position
  int64_t stored_projections = 0, projections = 0;
};

inline FixedSequenceScores ScoreFixedSequenceOn(const Checkpoint& ckpt, Backend* backend, DecoderOptions options) {
  auto d = Decoder::Load(ckpt, backend, std::move(options));
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return {};
  TokenBatch batch;
  batch.AddSequence(std::vector<int32_t>{1, 17, 42, 99, 5, 300, 12});
  std::vector<int64_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<LogitStats> chunks;
  EXPECT_TRUE((*d)->Forward(batch, rows, batch.tokens, 0, true, &chunks).ok());
  return {CombineLogitStats(chunks, 0, true).logprobs, (*d)->stored_projections(), (*d)->projections()};
}

inline FixedSequenceScores ScoreFixedSequence(const Checkpoint& ckpt, DecoderOptions options) {
  CpuBackend backend;
  return ScoreFixedSequenceOn(ckpt, &backend, std::move(options));
}

// Projections that load as stored when every one is stored in a format of
// groups of 32: the five column-parallel ones of each layer, and a
// row-parallel one where its canonical parts (RowParallelParts) are whole
// groups.
inline int64_t Group32StoredProjections(const ModelConfig& c) {
  int64_t per_layer = 5;
  for (const int64_t in : {c.q_dim(), c.intermediate_size}) per_layer += (in / RowParallelParts(in)) % 32 == 0;
  return per_layer * c.num_layers;
}

}  // namespace qsweep::testing
