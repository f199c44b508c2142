// Compares candidate runs with the baseline run, from the run files alone:
// per task and pooled over tasks (accuracy, Δacc, flips, McNemar, answer KL,
// bootstrap CIs, top-margin bins) and per corpus (PPL, token KL, top-1
// agreement, Δp, confidence). Refuses runs of another model or request set.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/run_file.h"
#include "metrics/sweep_metrics.h"

namespace qsweep {

// How a run summed its row-parallel layers (parallel.reduction), for
// messages: "tp-invariantly", or "fast at tp N" when its rounding depends
// on its tp.
std::string ReductionOf(const RunHeader& header);

struct NamedRun {
  std::string path;
  RunData data;
};

absl::StatusOr<SweepMetrics> CompareRuns(const NamedRun& baseline, const std::vector<NamedRun>& candidates,
                                         const metrics::ChoiceComparisonOptions& options = {});

}  // namespace qsweep
