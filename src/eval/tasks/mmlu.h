// MMLU, one subject's csv (hendrycks/test data/: no header; question, A, B,
// C, D, answer letter), as lm-evaluation-harness's mmlu (default template,
// few-shot from the dev split, first_n: the dev file's order):
//   "The following are multiple choice questions (with answers) about {subject}.\n\n"
//   + k times "{question.strip()}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer: {letter}\n\n"
//   + "{question.strip()}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
// choices " A", " B", " C", " D". The subject is the file name less
// "_test.csv" / "_val.csv" / "_dev.csv", with "_" shown as " ".
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/task.h"

namespace qsweep::tasks {

struct MmluOptions {
  int shots = 5;
  // Default: <dir of the file>/../dev/<subject>_dev.csv, the layout of
  // hendrycks/test's data/{dev,val,test}/.
  std::string dev_path;
};

absl::StatusOr<McTask> ImportMmlu(const std::string& path, const std::string& name, const MmluOptions& options = {});

// "abstract_algebra" for ".../abstract_algebra_test.csv".
std::string MmluSubject(const std::string& path);

}  // namespace qsweep::tasks
