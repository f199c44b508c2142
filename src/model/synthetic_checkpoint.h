// Synthetic checkpoints, "synthetic:NAME" or "synthetic:NAME@SEED": real model
// shapes (tiny test models up to Llama 3 70B) with weights that are a pure
// function of (seed, tensor name, flat index), so any slice of any tensor is
// generated on its own, on any rank, without materializing the tensor:
//
//   value[i] = RoundBF16(offset + scale * CounterNormal(seed, StreamId(name), i))
//
// with (offset, scale) from SyntheticInitFor: linear weights and lm_head
// (0, 1/sqrt(in_features)), the embedding (0, 1), norms (1, 0.1), biases
// (0, 0.02); arithmetic in fp32, one multiply then one add (no fused
// multiply-add), so other devices can reproduce the bits.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/model_config.h"

namespace qsweep {

std::vector<std::string> SyntheticModelNames();
// Errors list the valid names.
absl::StatusOr<ModelConfig> SyntheticModelConfig(std::string_view name);

struct SyntheticInit {
  float offset = 0.0f;
  float scale = 1.0f;
};
// `shape` is the tensor's shape ([out, in] for linear weights).
SyntheticInit SyntheticInitFor(std::string_view tensor_name, const std::vector<int64_t>& shape);

// One element; `stream` is StreamId(tensor name).
float SyntheticValue(uint64_t seed, uint64_t stream, SyntheticInit init, uint64_t index);
// The same from the index's CounterNormal.
float SyntheticValueOf(SyntheticInit init, float normal);

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenSyntheticCheckpoint(const std::string& spec);

}  // namespace qsweep

