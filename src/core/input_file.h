// Inputs are regular files. Opening a FIFO for reading blocks until
// something writes to it, so a FIFO named as a checkpoint, task or config
// would hang the run; a device, socket or directory is no input either.
// Every reader of a user-named file checks this before opening it.
#pragma once
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace qsweep {

// InvalidArgument when `path` exists and is not a regular file (symbolic
// links are followed); a missing path passes, for the reader's open to
// report. `what` names the input, e.g. "the sweep config".
absl::Status RequireRegularFile(const std::string& path, std::string_view what);

}  // namespace qsweep
