// One function per subcommand: adds it to the app (flags + callback).
// Callbacks report failures as one line on stderr and exit non-zero.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "sweep/sweep_config.h"
#include "sweep/sweep_run.h"

namespace qsweep::cli {

// Prints "qsweep: <message>" and exits 1 when `status` is an error.
void ExitOnError(const absl::Status& status);

// This executable's path, and the repository it was built from (the folder
// above it holding slurm/ and tools/), for the scripts and assets it uses.
std::string SelfPath();
std::string RepoPath();

// The backend of that kind (an error naming what this build has), or named
// "cpu" or "cuda"; run_command.cc. A default context is one rank without
// tensor parallelism.
absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendContext& context = {});
absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const std::string& name, const BackendContext& context = {});

// The sweep's metrics file (and its CSV and JSON) from its run files, as
// `qsweep metrics CONFIG` writes them; metrics_command.cc.
absl::Status WriteSweepMetrics(const SweepConfig& c);

void AddInspectCommand(CLI::App& app);   // inspect_command.cc
void AddExportCommand(CLI::App& app);    // export_command.cc
void AddLogprobsCommand(CLI::App& app);  // logprobs_command.cc
void AddGenerateCommand(CLI::App& app);  // generate_command.cc
void AddRunCommand(CLI::App& app);       // run_command.cc: run, prepare
void AddMetricsCommand(CLI::App& app);   // metrics_command.cc
void AddSlurmCommands(CLI::App& app);    // slurm_command.cc: plan, submit
void AddReportCommand(CLI::App& app);    // report_command.cc
void AddBenchCommand(CLI::App& app);     // bench_command.cc: bench gemm, bench forward

}  // namespace qsweep::cli
