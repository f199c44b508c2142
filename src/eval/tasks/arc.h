// AI2 ARC (Easy / Challenge) jsonl, as lm-evaluation-harness's arc_easy and
// arc_challenge: context "Question: {stem}\nAnswer:", choices " {text}".
//   {"id": ..., "question": {"stem": ..., "choices": [{"text", "label"}, ...]},
//    "answerKey": "C"}
// answerKey names a choice label; some rows use "1".."5" where others use
// "A".."E", so a key that is not a label is also tried in the other scheme.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportArc(const std::string& path, const std::string& name);

}  // namespace qsweep::tasks
