#include "backend/cuda/staged_upload.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "backend/cuda/cuda_check.h"
#include "core/status_macros.h"

namespace qsweep {

StagedUpload::StagedUpload(cudaStream_t stream, size_t buffer_bytes) : stream_(stream), buffer_bytes_(buffer_bytes) {
  for (Buffer& b : buffers_) QSWEEP_CUDA_CHECK(cudaEventCreateWithFlags(&b.copied, cudaEventDisableTiming));
}

StagedUpload::~StagedUpload() {
  for (Buffer& b : buffers_) {
    cudaEventSynchronize(b.copied);  // the copy engine may still read it
    cudaEventDestroy(b.copied);
    if (b.host) cudaFreeHost(b.host);
  }
}

absl::Status StagedUpload::Ready(Buffer& b, size_t bytes) {
  QSWEEP_CUDA_CHECK(cudaEventSynchronize(b.copied));
  if (b.bytes >= bytes) return absl::OkStatus();
  if (b.host) QSWEEP_CUDA_CHECK(cudaFreeHost(b.host));
  b.host = nullptr;
  b.bytes = 0;
  if (const cudaError_t e = cudaHostAlloc(&b.host, bytes, cudaHostAllocDefault); e != cudaSuccess) {
    cudaGetLastError();
    b.host = nullptr;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "no pinned host memory for a %.1f MiB upload buffer (%s)", bytes / double(1 << 20), cudaGetErrorName(e)));
  }
  b.bytes = bytes;
  return absl::OkStatus();
}

absl::Status StagedUpload::Copy(void* dst, int64_t rows, int64_t row_bytes,
                                const std::function<absl::Status(int64_t, int64_t, void*)>& fill) {
  const int64_t block = std::max<int64_t>(1, static_cast<int64_t>(buffer_bytes_) / std::max<int64_t>(row_bytes, 1));
  for (int64_t begin = 0; begin < rows; begin += block) {
    const int64_t end = std::min(rows, begin + block);
    Buffer& b = buffers_[next_];
    next_ ^= 1;
    const size_t bytes = static_cast<size_t>((end - begin) * row_bytes);
    QSWEEP_RETURN_IF_ERROR(Ready(b, std::max(bytes, buffer_bytes_)));
    QSWEEP_RETURN_IF_ERROR(fill(begin, end, b.host));
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + begin * row_bytes, b.host, bytes,
                                      cudaMemcpyHostToDevice, stream_));
    QSWEEP_CUDA_CHECK(cudaEventRecord(b.copied, stream_));
  }
  return absl::OkStatus();
}

}  // namespace qsweep
