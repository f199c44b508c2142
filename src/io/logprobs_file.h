// The file `qsweep logprobs` writes: the full log-softmax of every position
// of every sequence, for debugging a checkpoint and comparing the forward
// with other implementations.
//   /logprobs  float32 [total tokens, vocab]  row i: log p(· | tokens ≤ i)
//   /tokens    int32   [total tokens]
//   /offsets   int64   [sequences + 1]
//   attrs: model (string), scheme (string), complete (int, written last)
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace qsweep {

class LogprobsFileWriter {
 public:
  // Written to `path`.tmp and renamed by Close(), so a crash never leaves a
  // file that looks complete.
  static absl::StatusOr<LogprobsFileWriter> Create(const std::string& path, int64_t total_tokens,
                                                   int64_t vocab, const std::string& model,
                                                   const std::string& scheme);
  LogprobsFileWriter(LogprobsFileWriter&& other) noexcept;
  ~LogprobsFileWriter();
  // Rows [first_row, first_row + rows) of /logprobs.
  absl::Status WriteRows(int64_t first_row, int64_t rows, std::span<const float> logprobs);
  absl::Status Close(std::span<const int32_t> tokens, std::span<const int64_t> offsets);

 private:
  LogprobsFileWriter() = default;
  std::string path_;
  int64_t file_ = -1, dataset_ = -1, total_ = 0, vocab_ = 0;
};

}  // namespace qsweep
