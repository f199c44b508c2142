// One entry point for every task format `qsweep prepare` reads; each format
// is one importer file (arc.h, hellaswag.h, mmlu.h, piqa.h, boolq.h,
// winogrande.h) or the unified JSONL itself (task.h). docs/tasks.md lists
// the templates and the lm-evaluation-harness task each mirrors.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

struct ImportOptions {
  std::string name;             // the task's name; default: the file's stem
  std::optional<int> fewshot;   // mmlu only: examples from the dev split (default 5)
  std::string fewshot_path;     // mmlu: the dev csv (default ../dev/<subject>_dev.csv)
  std::string labels_path;      // piqa: labels file, when rows carry no "label"
};

// The format names ImportTask knows, in the order error messages list them.
const std::vector<std::string>& TaskFormats();

// Errors: an unknown format (listing the known ones), an option the format
// does not take, and every error of the format's reader ("<file>:<line>: ...").
// The result satisfies ValidateTask.
absl::StatusOr<McTask> ImportTask(const std::string& format, const std::string& path, const ImportOptions& options = {});

}  // namespace qsweep::tasks
