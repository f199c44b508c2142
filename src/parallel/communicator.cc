#include "parallel/communicator.h"

#include <algorithm>
#include <climits>
#include <string>

#include "backend/cpu/reference_ops.h"
#include "core/status_macros.h"

namespace qsweep {

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::AllReduceSum(float* data, int64_t n) {
  // MPI_Allreduce may add in any order; gathering every rank's buffer and
  // adding them in a fixed binary tree over ranks keeps results bit-identical
  // to a single rank's (see kCanonicalParts in model/decoder.h).
  std::vector<float> all(static_cast<size_t>(n) * size_);
  QSWEEP_CHECK(n < INT_MAX && size_ <= 64);
  MPI_Allgather(data, static_cast<int>(n), MPI_FLOAT, all.data(), static_cast<int>(n), MPI_FLOAT,
                comm_);
  ref::SumRanksInTreeOrder(all.data(), size_, n, data);
}

void MpiCommunicator::Broadcast(std::vector<uint8_t>& bytes, int root) {
  uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_);
  QSWEEP_CHECK(n < static_cast<uint64_t>(INT_MAX));
  bytes.resize(n);
  MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, root, comm_);
}

std::vector<std::vector<uint8_t>> MpiCommunicator::Gather(const std::vector<uint8_t>& mine,
                                                          int root) {
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(size_), displs(size_);
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_);
  std::vector<uint8_t> all;
  if (rank_ == root) {
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      displs[r] = total;
      total += counts[r];
    }
    all.resize(total);
  }
  MPI_Gatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, root,
              comm_);
  std::vector<std::vector<uint8_t>> out;
  if (rank_ == root)
    for (int r = 0; r < size_; ++r)
      out.emplace_back(all.begin() + displs[r], all.begin() + displs[r] + counts[r]);
  return out;
}

}  // namespace qsweep
