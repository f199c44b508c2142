#include "backend/cuda/nccl_group.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_format.h"
#include "mpi/agree_on_root.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<NcclGroup>> NcclGroup::Create(MPI_Comm group) {
  std::unique_ptr<NcclGroup> g(new NcclGroup());
  MPI_Comm_rank(group, &g->rank_);
  MPI_Comm_size(group, &g->size_);
  ncclUniqueId id{};
  // Every rank learns whether the leader got an id, so a failure ends all of
  // them with the same error instead of leaving some waiting in the broadcast.
  absl::Status got_id;
  if (g->rank_ == 0 && ncclGetUniqueId(&id) != ncclSuccess)
    got_id = absl::UnavailableError("NCCL: ncclGetUniqueId failed on the group's leader");
  if (absl::Status agreed = AgreeOnRoot(got_id, group); !agreed.ok()) return agreed;
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, group);
  const ncclResult_t r = ncclCommInitRank(&g->comm_, g->size_, id, g->rank_);
  if (r != ncclSuccess)
    return absl::UnavailableError(absl::StrFormat("NCCL: ncclCommInitRank (rank %d of %d) failed: %s", g->rank_,
                                                  g->size_, ncclGetErrorString(r)));
  return g;
}

NcclGroup::~NcclGroup() {
  if (comm_) ncclCommDestroy(comm_);
}

void NcclGroup::AllGather(const float* send, float* recv, int64_t n, cudaStream_t stream) {
  const ncclResult_t r = ncclAllGather(send, recv, static_cast<size_t>(n), ncclFloat32, comm_, stream);
  if (r != ncclSuccess) {
    // A peer died or the fabric failed mid-forward: nothing sensible to return
    // to; the work queue's MPI error handling reports which rank went away.
    std::fprintf(stderr, "qsweep: NCCL all-gather failed on tp rank %d: %s\n", rank_, ncclGetErrorString(r));
    std::abort();
  }
}

}  // namespace qsweep
