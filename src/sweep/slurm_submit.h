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

// The sbatch command lines: the array (one task per scheme) and the
// aggregation job after it ("afterok:%ARRAY%" until the array's job id is
// known). Where the candidates' exact token statistics read the baseline's
// run, the baseline is an array job of its own first and the candidates'
// array waits for it ("afterok:%BASELINE%").
std::vector<std::vector<std::string>> SubmitCommands(const SweepConfig& config, const SubmitOptions& options);

// Prepares the requests (once, here, before any task), submits the jobs in
// order; returns the array job ids (comma-separated) and the aggregation's.
absl::StatusOr<std::pair<std::string, std::string>> SubmitSweep(const SweepConfig& config,
                                                                 const SubmitOptions& options);

// argv as one line a POSIX shell reads back as those arguments (single
// quotes where a character needs them): what --dry-run prints.
std::string ShellQuoted(const std::vector<std::string>& argv);

// Runs argv (no shell) and returns its stdout; errors carry its stderr.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace qsweep
