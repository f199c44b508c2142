// What a run file records about its scheme: the canonical name, the spec as
// JSON, and the honest size of the model under it.
#pragma once
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"

namespace qsweep {

struct SchemeSummary {
  std::string name;
  std::string json;
  double bits_per_weight = 0;  // over all parameters
  int64_t bytes = 0;
};

// `scheme`: a name or a YAML spec (ResolveScheme); `name`: what the run is
// called (default: the spec's canonical name).
absl::StatusOr<SchemeSummary> SummarizeScheme(const std::string& scheme, const Checkpoint& checkpoint,
                                              const std::string& name = "");

}  // namespace qsweep
