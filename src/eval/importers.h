// Importers of the raw benchmark formats users have, producing the unified
// multiple-choice tasks with lm-evaluation-harness's prompt templates and
// target delimiters (docs/tasks.md lists each template):
//   arc         AI2 ARC jsonl (Easy / Challenge)            lm-eval arc_easy / arc_challenge
//   hellaswag   HellaSwag jsonl                              lm-eval hellaswag
//   mmlu        MMLU csv of one subject, k-shot from dev     lm-eval mmlu (default template)
//   piqa        PIQA jsonl (+ labels file)                   lm-eval piqa
//   boolq       BoolQ jsonl                                  lm-eval boolq
//   winogrande  WinoGrande jsonl (partial scoring)           lm-eval winogrande
//   jsonl       qsweep's own format (task_file.h)
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/task_file.h"

namespace qsweep {

struct ImportOptions {
  int fewshot = 0;           // mmlu: examples from the subject's dev split
  std::string fewshot_path;  // default: ../dev/<subject>_dev.csv beside the test file
  std::string labels_path;   // piqa: the labels file when labels are not in the objects
};

absl::StatusOr<McTask> ImportTask(const std::string& format, const std::string& path, const std::string& name,
                                  const ImportOptions& options = {});

// HellaSwag's text clean-up, as lm-eval's hellaswag preprocess().
std::string HellaswagPreprocess(const std::string& text);

}  // namespace qsweep
