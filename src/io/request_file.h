// The request file `qsweep prepare` writes (HDF5, schema in docs/run_file.md):
// every task's tokenized contexts and continuations and every corpus' token
// stream, with the set's content id. Written to a .tmp file and renamed.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/requests.h"

namespace qsweep {

absl::Status WriteRequestFile(const std::string& path, const RequestSet& requests);
// Validates the structure (offsets, labels, empty continuations) and that the
// stored content id matches the contents; errors name the file and dataset.
absl::StatusOr<RequestSet> ReadRequestFile(const std::string& path);

}  // namespace qsweep
