// Rank 0's dynamic work queue. Replica leaders ask for a unit, score it, and
// send the result back with their next request, so faster replicas take
// more units. A coordinator thread on rank 0 hands out units in order and
// passes every result to the sink: the run file's single writer.
// (Needs MPI_THREAD_MULTIPLE: rank 0 also scores, as replica 0's leader.)
#pragma once
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "eval/work_units.h"
#include "parallel/topology.h"
#include "parallel/tp_scorer.h"

namespace qsweep {

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual absl::Status Put(const WorkUnit& unit, const UnitResult& result) = 0;
};

struct QueueJob {
  const RequestSet* requests = nullptr;
  std::vector<WorkUnit> units;       // every unit of the run
  std::set<int64_t> done;            // rank 0: units already in the sink (resume)
  ScoringOptions scoring;
  ResultSink* sink = nullptr;        // rank 0
  std::string label;                 // for progress lines, e.g. the scheme
};

// Collective over `world`: every rank calls it. Leaders score with `scorer`;
// followers of a tensor-parallel group serve `tp` (null when tp == 1).
absl::Status RunWorkQueue(const Topology& topology, MPI_Comm world, QueueJob& job,
                          LogitScorer* scorer, TensorParallelScorer* tp);

}  // namespace qsweep
