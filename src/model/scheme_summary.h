// What a run file records about its scheme: the canonical name, the spec as
// JSON, and the honest size of the model under it.
#pragma once
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "quant/scheme.h"

namespace qsweep {

struct SchemeSummary {
  std::string name;
  std::string json;
  double bits_per_weight = 0;  // over all parameters
  int64_t bytes = 0;
};

// `name`: what the run is called (default: the spec's canonical name).
SchemeSummary SummarizeScheme(const SchemeSpec& spec, const Checkpoint& checkpoint, const std::string& name = "");

// A quantized checkpoint made elsewhere, run as entry `name` held in `spec`:
// its size is the file's own (bits per weight from its block formats), and
// the JSON adds where it came from, its content id and how many tensors are
// in each stored format, e.g.
//   "checkpoint": {"path": ..., "id": ..., "formats": {"Q8_0": 28, "F32": 9}}
SchemeSummary SummarizeCheckpointEntry(const SchemeSpec& spec, const Checkpoint& checkpoint,
                                       const std::string& name);
// The entry's JSON with how its projections were loaded, once the decoder
// has them: "checkpoint": {..., "projections": 154, "projections_as_stored": 154}
// (the rest dequantized and held in the entry's scheme).
std::string WithStoredProjections(const std::string& scheme_json, int64_t as_stored, int64_t projections);

// Whether `entry` is of the model `baseline` is: the same architecture and
// shapes (every field of the config that changes what the weights compute);
// an error naming both files and what differs.
absl::Status CheckSameModel(const Checkpoint& entry, const Checkpoint& baseline);

}  // namespace qsweep
