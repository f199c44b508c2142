// Collectives of one group of ranks. The CPU backend's tensor parallelism
// and the work queue use the MPI implementation; the GPU backend adds NCCL
// for activations.
#pragma once
#include <cstdint>
#include <vector>

#include <mpi.h>

#include "absl/status/status.h"

namespace qsweep {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void AllReduceSum(float* data, int64_t n) = 0;
  // `bytes` is replaced by the root's on every other rank.
  virtual void Broadcast(std::vector<uint8_t>& bytes, int root) = 0;
  // On the root: everyone's bytes in rank order; elsewhere: empty.
  virtual std::vector<std::vector<uint8_t>> Gather(const std::vector<uint8_t>& mine, int root) = 0;
};

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm);  // takes ownership unless MPI_COMM_WORLD
  ~MpiCommunicator() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void AllReduceSum(float* data, int64_t n) override;
  void Broadcast(std::vector<uint8_t>& bytes, int root) override;
  std::vector<std::vector<uint8_t>> Gather(const std::vector<uint8_t>& mine, int root) override;
  MPI_Comm comm() const { return comm_; }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace qsweep
