// One entry point for the generative task formats, as import_task.h is for
// the multiple-choice ones: "gen-jsonl" (the generative JSONL itself,
// gen_task.h) and "gsm8k" (gsm8k.h).
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/tasks/gen_task.h"

namespace qsweep::tasks {

// The format names ImportGenTask knows, in the order error messages list them.
const std::vector<std::string>& GenTaskFormats();

// `name` empty: the file's stem. Errors: an unknown format (listing the
// known ones) and every error of the format's reader ("<file>:<line>: ...").
// The result satisfies ValidateGenTask.
absl::StatusOr<GenTask> ImportGenTask(const std::string& format, const std::string& path, const std::string& name);

}  // namespace qsweep::tasks
