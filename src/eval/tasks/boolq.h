// BoolQ, as lm-evaluation-harness's boolq (SuperGLUE): context
// "{passage}\nQuestion: {question}?\nAnswer:", choices " no", " yes".
// Rows {"question", "passage", "answer": true|false} (the original release)
// or "label": 0|1 (SuperGLUE); "idx" is the id when present.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportBoolq(const std::string& path, const std::string& name);

}  // namespace qsweep::tasks
