// A tensor-parallel group's NCCL communicator, bootstrapped over the group's
// MPI communicator (the leader makes the unique id, MPI broadcasts it).
#pragma once
#include <memory>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "absl/status/statusor.h"

namespace qsweep {

class NcclGroup {
 public:
  // Collective over `group`; the calling rank's CUDA device must be set.
  static absl::StatusOr<std::unique_ptr<NcclGroup>> Create(MPI_Comm group);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // recv[r * n, (r + 1) * n) = rank r's send[0, n), for every r.
  void AllGather(const float* send, float* recv, int64_t n, cudaStream_t stream);

 private:
  NcclGroup() = default;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

}  // namespace qsweep
