#include "eval/tasks/gen_import.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "eval/tasks/gsm8k.h"

namespace qsweep::tasks {

const std::vector<std::string>& GenTaskFormats() {
  static const std::vector<std::string> formats = {"gen-jsonl", "gsm8k"};
  return formats;
}

absl::StatusOr<GenTask> ImportGenTask(const std::string& format, const std::string& path, const std::string& name) {
  const std::string task_name = name.empty() ? std::filesystem::path(path).stem().string() : name;
  absl::StatusOr<GenTask> task;
  if (format == "gen-jsonl") task = ReadGenTaskJsonl(path, task_name);
  else if (format == "gsm8k") task = ImportGsm8k(path, task_name);
  else
    return absl::InvalidArgumentError(absl::StrFormat("%s: unknown generative task format \"%s\" (known: %s)", path,
                                                      format, absl::StrJoin(GenTaskFormats(), ", ")));
  if (!task.ok()) return task.status();
  // The readers keep these invariants themselves; a failure here is a bug of one.
  QSWEEP_RETURN_IF_ERROR(ValidateGenTask(*task));
  return task;
}

}  // namespace qsweep::tasks
