// Hugging Face safetensors checkpoints: a directory with config.json and
// model.safetensors or a sharded model.safetensors.index.json, or one
// .safetensors file (or an index) with config.json beside it. Files are
// memory-mapped and only their headers are read at open; every header field
// is bounds-checked against the file and every tensor against the config.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenSafetensorsCheckpoint(const std::string& path);

}  // namespace qsweep
