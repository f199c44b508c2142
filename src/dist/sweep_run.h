// `qsweep run CONFIG`: one MPI job that scores the sweep's schemes (all, or
// those asked for) over its requests, writing one run file per scheme. The
// checkpoint is opened once (memory-mapped); each scheme quantizes it in
// memory. A complete run file is kept; an unfinished one resumes from its
// journal.
#pragma once
#include <string>
#include <vector>

#include <mpi.h>

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "dist/sweep_config.h"

namespace qsweep {

// Tokenizes the config's tasks and corpora into its request file (rank 0's
// job; deterministic, so rerunning gives the same file and content id).
absl::Status PrepareRequests(const SweepConfig& config);

// Makes the backend a rank computes on ("cpu" or "cuda"); `all_reduce` sums
// over the rank's tensor-parallel group.
using BackendMaker = std::function<absl::StatusOr<std::unique_ptr<Backend>>(
    const std::string& name, std::function<void(float*, int64_t)> all_reduce)>;

absl::Status RunSweep(const SweepConfig& config, const std::vector<std::string>& schemes, MPI_Comm world,
                      const BackendMaker& make_backend);

}  // namespace qsweep
