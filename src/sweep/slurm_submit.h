// `qsweep plan` / `qsweep submit`: a sweep as a Slurm array (one task per
// scheme, the baseline first) and an aggregation job that runs the metrics
// once every task succeeded. Config values reach sbatch only as separate
// arguments (argv, no shell), so no value is ever parsed by a shell.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sweep/sweep_config.h"

namespace qsweep {

struct PlanRow {
  int index = 0;
  std::string scheme, run_file, state;  // state: complete, partial (journal), missing
};
std::vector<PlanRow> PlanSweep(const SweepConfig& config);

struct SubmitOptions {
  std::string repo;            // where launcher/ and slurm/ are
  std::string qsweep;          // the binary the jobs run
  int ranks = 0;               // per array task (default: the config's tp)
  std::vector<int> indices = {};  // array indices to (re)submit; empty: all
};

// The two sbatch command lines; the aggregation one ends in "afterok:%ARRAY%"
// until the array's job id is known.
std::vector<std::vector<std::string>> SubmitCommands(const SweepConfig& config, const SubmitOptions& options);

// Prepares the requests (once, here, before any task), submits the array and
// the aggregation job; returns their job ids.
absl::StatusOr<std::pair<std::string, std::string>> SubmitSweep(const SweepConfig& config,
                                                                 const SubmitOptions& options);

// Runs argv (no shell) and returns its stdout; errors carry its stderr.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace qsweep
