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

// The backend a run was made on, from its header's `world`
// ("... tp 1, cuda backend" → "cuda"); empty when it does not say.
std::string RunBackend(const std::string& world);
// How it summed its row-parallel layers (parallel.reduction): empty when
// tp-invariant, "fast at tp N" when its rounding depends on its tp
// ("... tp 2, cuda backend, fast reduction").
std::string RunReduction(const std::string& world);

struct NamedRun {
  std::string path;
  RunData data;
};

absl::StatusOr<SweepMetrics> CompareRuns(const NamedRun& baseline, const std::vector<NamedRun>& candidates,
                                         const metrics::ChoiceComparisonOptions& options = {});

}  // namespace qsweep
