// Reads a Hugging Face config.json of the Llama family (LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM) into a ModelConfig. Both rope styles
// are understood: the classic top-level `rope_theta` + `rope_scaling`, and
// transformers 5's `rope_parameters` object. Anything we would compute wrong
// (another architecture, yarn/dynamic rope, a wrong type) is an error naming
// the file and the key, never a silent default.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace qsweep {

// `file` only names the source in error messages.
absl::StatusOr<ModelConfig> ParseHfConfig(const nlohmann::json& json, const std::string& file);

// Reads and parses `path` (a config.json).
absl::StatusOr<ModelConfig> LoadHfConfig(const std::string& path);

// The config.json of `c` as transformers writes one (classic rope keys),
// which ParseHfConfig reads back to `c`.
nlohmann::json HfConfigJson(const ModelConfig& c);

}  // namespace qsweep
