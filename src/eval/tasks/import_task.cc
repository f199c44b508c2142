#include "eval/tasks/import_task.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "eval/tasks/arc.h"
#include "eval/tasks/boolq.h"
#include "eval/tasks/hellaswag.h"
#include "eval/tasks/mmlu.h"
#include "eval/tasks/piqa.h"
#include "eval/tasks/winogrande.h"

namespace qsweep::tasks {

const std::vector<std::string>& TaskFormats() {
  static const std::vector<std::string> formats = {"jsonl", "arc", "hellaswag", "mmlu", "piqa", "boolq", "winogrande"};
  return formats;
}

absl::StatusOr<McTask> ImportTask(const std::string& format, const std::string& path, const ImportOptions& options) {
  const std::string name = options.name.empty() ? std::filesystem::path(path).stem().string() : options.name;
  auto refuse = [&](const std::string& option) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: format \"%s\" takes no %s option", path, format, option));
  };
  if (format != "mmlu" && options.fewshot) return refuse("fewshot");
  if (format != "mmlu" && !options.fewshot_path.empty()) return refuse("fewshot_path");
  if (format != "piqa" && !options.labels_path.empty()) return refuse("labels");
  absl::StatusOr<McTask> task;
  if (format == "jsonl") task = ReadTaskJsonl(path, name);
  else if (format == "arc") task = ImportArc(path, name);
  else if (format == "hellaswag") task = ImportHellaswag(path, name);
  else if (format == "mmlu") task = ImportMmlu(path, name, {options.fewshot.value_or(5), options.fewshot_path});
  else if (format == "piqa") task = ImportPiqa(path, name, options.labels_path);
  else if (format == "boolq") task = ImportBoolq(path, name);
  else if (format == "winogrande") task = ImportWinogrande(path, name);
  else
    return absl::InvalidArgumentError(absl::StrFormat("%s: unknown task format \"%s\" (known: %s)", path, format,
                                                      absl::StrJoin(TaskFormats(), ", ")));
  if (!task.ok()) return task.status();
  // Every importer keeps these invariants itself; a failure here is a bug
  // of one, reported rather than passed on to `prepare`.
  QSWEEP_RETURN_IF_ERROR(ValidateTask(*task));
  return task;
}

}  // namespace qsweep::tasks
