// Where a run's weights came from, from its scheme JSON: quantized by qsweep
// itself, or a checkpoint made elsewhere (a GGUF file, a GPTQ or AWQ
// safetensors checkpoint), with its stored formats — what the report groups
// entries by.
#pragma once
#include <string>

namespace qsweep {

struct CheckpointSource {
  std::string kind;     // "qsweep", "gguf", "gptq", "awq" or "safetensors"
  std::string formats;  // "Q8_0 ×30, F32 ×9"; empty for qsweep's own
  std::string path;     // the file or folder; empty for qsweep's own
};

// A JSON without a "checkpoint" member (or none at all) is qsweep's own.
CheckpointSource SourceOf(const std::string& scheme_json);

}  // namespace qsweep
