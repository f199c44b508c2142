#include "parallel/work_queue.h"

#include <thread>

#include "absl/strings/str_format.h"
#include "core/byte_buffer.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "eval/unit_codec.h"

namespace qsweep {
namespace {

constexpr int kAskTag = 701;     // leader → rank 0: [has result][unit id][result bytes]
constexpr int kAssignTag = 702;  // rank 0 → leader: unit id, or -1 when there is no more work

std::vector<uint8_t> Receive(MPI_Comm comm, int source, int tag, int* from) {
  MPI_Status st;
  MPI_Probe(source, tag, comm, &st);
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  std::vector<uint8_t> bytes(n);
  MPI_Recv(bytes.data(), n, MPI_BYTE, st.MPI_SOURCE, tag, comm, MPI_STATUS_IGNORE);
  if (from) *from = st.MPI_SOURCE;
  return bytes;
}

// Rank 0's coordinator: serves until every leader was told to stop.
absl::Status Coordinate(MPI_Comm comm, const Topology& topo, QueueJob& job) {
  std::vector<int64_t> pending;
  for (const WorkUnit& u : job.units)
    if (!job.done.count(u.id)) pending.push_back(u.id);
  Progress progress(absl::StrFormat("%s units", job.label), static_cast<int64_t>(job.units.size()),
                    "units", true);
  progress.Advance(static_cast<int64_t>(job.done.size()));
  size_t next = 0;
  int active = topo.replicas;
  absl::Status first_error;
  while (active > 0) {
    int from = 0;
    const std::vector<uint8_t> msg = Receive(comm, MPI_ANY_SOURCE, kAskTag, &from);
    ByteReader r(msg);
    if (r.Get<uint8_t>()) {
      const int64_t id = r.Get<int64_t>();
      const UnitResult result = DecodeUnitResult(r.GetVector<uint8_t>());
      if (first_error.ok()) first_error = job.sink->Put(job.units[id], result);
      progress.Advance();
    }
    int64_t assign = -1;
    if (first_error.ok() && next < pending.size()) assign = pending[next++];
    else --active;
    MPI_Send(&assign, 1, MPI_INT64_T, from, kAssignTag, comm);
  }
  progress.Finish();
  return first_error;
}

absl::Status Lead(MPI_Comm comm, QueueJob& job, LogitScorer* scorer) {
  ByteWriter ask;
  ask.Put<uint8_t>(0);
  for (;;) {
    MPI_Send(ask.bytes().data(), static_cast<int>(ask.bytes().size()), MPI_BYTE, 0, kAskTag, comm);
    int64_t id = -1;
    MPI_Recv(&id, 1, MPI_INT64_T, 0, kAssignTag, comm, MPI_STATUS_IGNORE);
    if (id < 0) return absl::OkStatus();
    absl::StatusOr<UnitResult> result = ScoreUnit(*scorer, *job.requests, job.units[id], job.scoring);
    if (!result.ok()) return result.status();
    ask = ByteWriter();
    ask.Put<uint8_t>(1);
    ask.Put<int64_t>(id);
    ask.PutVector(EncodeUnitResult(*result));
  }
}

}  // namespace

absl::Status RunWorkQueue(const Topology& topo, MPI_Comm world, QueueJob& job, LogitScorer* scorer,
                          TensorParallelScorer* tp) {
  MPI_Comm comm;
  MPI_Comm_dup(world, &comm);
  absl::Status coordinator_status;
  std::thread coordinator;
  if (topo.world_rank == 0)
    coordinator = std::thread([&] { coordinator_status = Coordinate(comm, topo, job); });
  absl::Status status;
  if (topo.leader()) {
    status = Lead(comm, job, scorer);
    if (tp) tp->Stop();
    if (!status.ok()) {
      // A leader that cannot score cannot leave the others waiting: end the job.
      std::fprintf(stderr, "qsweep: rank %d: %s\n", topo.world_rank,
                   std::string(status.message()).c_str());
      MPI_Abort(world, 1);
    }
  } else {
    status = tp->RunFollower();
  }
  if (coordinator.joinable()) coordinator.join();
  MPI_Comm_free(&comm);
  QSWEEP_RETURN_IF_ERROR(status);
  return coordinator_status;
}

}  // namespace qsweep
