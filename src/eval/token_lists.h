// A text file of token id sequences, one per line, ids separated by spaces
// (what `qsweep logprobs --tokens` reads).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

// Errors name the file and line: a non-integer, an id outside [0, vocab), an
// empty file. Blank lines are skipped.
absl::StatusOr<std::vector<std::vector<int32_t>>> ReadTokenLists(const std::string& path,
                                                                 int64_t vocab_size);

}  // namespace qsweep
