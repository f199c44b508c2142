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
#include "sweep/sweep_config.h"

namespace qsweep {

// Tokenizes the config's tasks and corpora into its request file (rank 0's
// job; deterministic, so rerunning gives the same file and content id).
absl::Status PrepareRequests(const SweepConfig& config);

// Where a rank's backend sits: its tensor-parallel group and its place on
// the node.
struct BackendContext {
  int tp = 1;
  int tp_rank = 0;
  int local_rank = 0;              // rank on its node: picks the GPU when several are visible
  MPI_Comm group = MPI_COMM_NULL;  // the tensor-parallel group (NCCL is set up over it)
  // Sums host buffers over the group in rank order (null when tp == 1).
  std::function<void(float*, int64_t)> host_all_reduce;
};

// Makes the backend a rank computes on. Called by every rank of the group
// together (a GPU backend sets up NCCL here).
using BackendMaker =
    std::function<absl::StatusOr<std::unique_ptr<Backend>>(BackendKind kind, const BackendContext& context)>;

absl::Status RunSweep(const SweepConfig& config, const std::vector<std::string>& schemes, MPI_Comm world,
                      const BackendMaker& make_backend);

}  // namespace qsweep
