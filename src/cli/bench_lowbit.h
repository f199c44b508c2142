// The low-bit GEMM bench (bench gemm --formats).
#pragma once
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backend/backend.h"

namespace qsweep::cli {

struct LowbitBenchArgs {
  std::vector<std::string> formats, shapes{"llama3-70b"};
  std::vector<int64_t> rows{1, 4, 16, 64, 256, 4096, 16384};
  int iters = 5;
};

absl::Status BenchLowbit(Backend& b, const LowbitBenchArgs& a);

}  // namespace qsweep::cli
