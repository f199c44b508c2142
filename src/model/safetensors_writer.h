// Writes any checkpoint as a Hugging Face checkpoint folder: config.json
// (HfConfigJson) and the tensors in safetensors files of at most
// `shard_bytes` each (a larger tensor gets a file of its own), named as
// transformers names them (model.safetensors alone, or
// model-00001-of-0000N.safetensors with model.safetensors.index.json).
// Each tensor keeps its dtype (bf16, f16, f32; a tensor stored packed is
// written as the f32 values it dequantizes to) and is streamed in row
// blocks, so no more than one block is ever held. This is how a synthetic
// model becomes a real file checkpoint (qsweep export), whose load then
// reads only each rank's slices.
#pragma once
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/checkpoint.h"

namespace qsweep {

// `dir` must be new or an empty folder. `progress`: print progress on
// stderr (bytes written, rate, ETA).
absl::Status WriteSafetensorsCheckpoint(const Checkpoint& ckpt, const std::string& dir, int64_t shard_bytes,
                                        bool progress = false);

}  // namespace qsweep
