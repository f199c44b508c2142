// `qsweep bench decode`: greedy decoding speed per scheme with a KV cache.
#pragma once
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backend/backend.h"

namespace qsweep::cli {

struct DecodeBenchArgs {
  std::string model = "synthetic:llama3-8b";
  std::vector<std::string> schemes{"bf16", "w4a16-g128"};
  std::vector<int64_t> batches{1, 8, 32}, contexts{512, 2048};
  int steps = 32;  // decode steps timed after the prefill
};

absl::Status BenchDecode(Backend& b, const DecodeBenchArgs& a);

}  // namespace qsweep::cli
