// HellaSwag jsonl (hellaswag_val.jsonl of rowanz/hellaswag, or the HF
// dataset's rows), as lm-evaluation-harness's hellaswag:
//   context  preprocess("{activity_label}: {ctx_a} {ctx_b.capitalize()}")
//   choices  " " + preprocess(ending)
// Fields: "activity_label", "ctx_a", "ctx_b", "endings" (strings), "label"
// (an integer or a string of digits); "ind" is the id when present.
#pragma once
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportHellaswag(const std::string& path, const std::string& name);

// lm-eval's hellaswag preprocess(): strip; " [title]" -> ". "; remove every
// "[...]" (non-greedy, not across a line break, as re.sub("\\[.*?\\]", ""));
// then "  " -> " " (one pass, as str.replace).
std::string HellaswagPreprocess(std::string_view text);

}  // namespace qsweep::tasks
