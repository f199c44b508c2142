// How a world of R ranks is laid out: replicas of `tp` consecutive ranks,
// each replica one tensor-parallel group that must sit inside one node (its
// all-reduces run every layer), replicas splitting the work (data parallel).
#pragma once
#include "absl/status/statusor.h"

namespace qsweep {

struct Topology {
  int world_rank = 0, world_size = 1;
  int tp = 1;
  int replica = 0, replicas = 1;
  int tp_rank = 0;  // rank within the replica; 0 is the replica's leader
  int local_rank = 0;  // rank on its node: which GPU it takes when it sees several
  bool leader() const { return tp_rank == 0; }
};

// `node_ranks`: how many ranks share this rank's node (from the MPI
// shared-memory split); `node_first`: the world rank of the node's first.
absl::StatusOr<Topology> MakeTopology(int world_rank, int world_size, int tp, int node_first,
                                      int node_ranks);

}  // namespace qsweep
