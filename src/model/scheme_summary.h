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

}  // namespace qsweep
