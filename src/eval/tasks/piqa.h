// PIQA, as lm-evaluation-harness's piqa: context "Question: {goal}\nAnswer:",
// choices " {sol1}", " {sol2}". Rows {"goal", "sol1", "sol2"} (+ optional
// "id") with "label" 0/1 in the object (HF) or, for the original release, a
// labels file (valid-labels.lst: one 0 or 1 per line, row i <-> line i).
// When both are given they must agree.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportPiqa(const std::string& path, const std::string& name, const std::string& labels_path = "");

}  // namespace qsweep::tasks
