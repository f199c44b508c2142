// Rank 0 decides for all: the one collective every room that starts or
// stops work across ranks needs (the sweep, the NCCL group), so it sits
// below them all, on MPI alone.
#pragma once
#include <mpi.h>

#include "absl/status/status.h"

namespace qsweep {

// Every rank returns rank 0's `root` (its code and message), whatever it
// passed itself, so that the ranks go on together or all fail with rank
// 0's text. Collective over `comm`; only rank 0's argument is read.
absl::Status AgreeOnRoot(const absl::Status& root, MPI_Comm comm);
bool AgreeOnRoot(bool root, MPI_Comm comm);

}  // namespace qsweep
