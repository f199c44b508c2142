// WinoGrande, as lm-evaluation-harness's winogrande (partial scoring): the
// blank "_" splits the sentence; each choice has its own context, the part
// before "_" with the option in place, and both score the same continuation,
// " " + the part after "_" stripped. Rows {"sentence", "option1", "option2",
// "answer": "1"|"2"}; "qID" is the id when present.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportWinogrande(const std::string& path, const std::string& name);

}  // namespace qsweep::tasks
