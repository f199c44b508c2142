#include "parallel/topology.h"

#include "absl/strings/str_format.h"

namespace qsweep {

absl::StatusOr<Topology> MakeTopology(int world_rank, int world_size, int tp, int node_first,
                                      int node_ranks) {
  if (tp < 1 || world_size % tp != 0)
    return absl::InvalidArgumentError(absl::StrFormat(
        "tensor parallelism %d does not divide the %d ranks of the job", tp, world_size));
  Topology t;
  t.world_rank = world_rank;
  t.world_size = world_size;
  t.tp = tp;
  t.replica = world_rank / tp;
  t.replicas = world_size / tp;
  t.tp_rank = world_rank % tp;
  t.local_rank = world_rank - node_first;
  const int group_first = t.replica * tp;
  if (group_first < node_first || group_first + tp > node_first + node_ranks)
    return absl::InvalidArgumentError(absl::StrFormat(
        "tensor-parallel group of ranks %d-%d spans nodes (this node holds ranks %d-%d): use a tp "
        "that divides the ranks per node",
        group_first, group_first + tp - 1, node_first, node_first + node_ranks - 1));
  return t;
}

}  // namespace qsweep
