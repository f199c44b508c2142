// Host-to-device copies of values that a producer writes on the host as
// they are needed (weights read or generated from a checkpoint), through
// two pinned staging buffers: the producer writes a block into one while
// the copy engine moves the block before it out of the other.
//
// Why: a cudaMemcpy from pageable memory goes through the driver's own
// small pinned bounce buffer and blocks the host for the whole copy, and
// the pageable source itself must first be allocated and touched, page by
// page, by one thread. From pinned memory a cudaMemcpyAsync runs at the
// link's rate and returns at once, so writing block i+1 (in parallel, by
// the producer) overlaps copying block i, and no full-size host copy of a
// layer ever exists: two buffers of a few tens of MiB, reused for a whole
// load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include <cuda_runtime.h>

#include "absl/status/status.h"

namespace qsweep {

class StagedUpload {
 public:
  // Copies are queued on `stream`; each buffer holds `buffer_bytes` (grown
  // to one row where a row is larger).
  explicit StagedUpload(cudaStream_t stream, size_t buffer_bytes = size_t{64} << 20);
  ~StagedUpload();
  StagedUpload(const StagedUpload&) = delete;
  StagedUpload& operator=(const StagedUpload&) = delete;

  // Writes `rows` rows of `row_bytes` each to `dst` (device memory), rows
  // [begin, end) at a time as `fill(begin, end, host)` writes them into
  // `host`. Returns once every block is written and queued (or at the first
  // error of `fill`); the copies complete in `stream` order, so later work
  // on the stream sees them.
  absl::Status Copy(void* dst, int64_t rows, int64_t row_bytes,
                    const std::function<absl::Status(int64_t begin, int64_t end, void* host)>& fill);

 private:
  struct Buffer {
    void* host = nullptr;
    size_t bytes = 0;
    cudaEvent_t copied = nullptr;  // recorded after the copy out of it
  };
  // Buffer `b` with room for `bytes`, its last copy complete.
  absl::Status Ready(Buffer& b, size_t bytes);

  cudaStream_t stream_;
  size_t buffer_bytes_;
  Buffer buffers_[2];
  int next_ = 0;
};

}  // namespace qsweep
