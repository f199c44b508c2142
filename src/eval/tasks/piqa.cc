#include "eval/tasks/piqa.h"

#include <fstream>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"
#include "eval/tasks/python_text.h"
#include "core/input_file.h"

namespace qsweep::tasks {
namespace {

struct Label {
  int32_t value;
  int64_t line;
};

absl::StatusOr<std::vector<Label>> ReadLabels(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the labels file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the labels file", path));
  std::vector<Label> labels;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    const std::string v = PyStrip(text);
    if (v.empty()) continue;
    if (v != "0" && v != "1")
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d: label \"%s\" is not 0 or 1", path, line, v));
    labels.push_back({v == "1" ? 1 : 0, line});
  }
  return labels;
}

}  // namespace

absl::StatusOr<McTask> ImportPiqa(const std::string& path, const std::string& name, const std::string& labels_path) {
  std::vector<Label> file_labels;
  if (!labels_path.empty()) {
    QSWEEP_ASSIGN_OR_RETURN(file_labels, ReadLabels(labels_path));
  }
  McTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    const size_t row = task.samples.size();
    QSWEEP_ASSIGN_OR_RETURN(std::string id, ids.InsertOptional(at, j, "id", row));
    QSWEEP_ASSIGN_OR_RETURN(std::string goal, StringField(at, j, "goal"));
    QSWEEP_ASSIGN_OR_RETURN(std::string sol1, StringField(at, j, "sol1"));
    QSWEEP_ASSIGN_OR_RETURN(std::string sol2, StringField(at, j, "sol2"));
    if (sol1.empty() || sol2.empty()) return at.Error(absl::StrFormat("\"%s\" is empty", sol1.empty() ? "sol1" : "sol2"));
    int64_t label = -1;
    if (j.contains("label")) {
      QSWEEP_ASSIGN_OR_RETURN(label, IntOrDigitsField(at, j, "label"));
      if (label != 0 && label != 1) return at.Error(absl::StrFormat("label %d out of range: 2 choices, so 0..1", label));
    }
    if (!labels_path.empty()) {
      if (row >= file_labels.size())
        return at.Error(absl::StrFormat("row %d has no label: %s holds %d labels", row + 1, labels_path,
                                        file_labels.size()));
      if (label >= 0 && label != file_labels[row].value)
        return at.Error(absl::StrFormat("label %d disagrees with %s:%d (%d)", label, labels_path,
                                        file_labels[row].line, file_labels[row].value));
      label = file_labels[row].value;
    }
    if (label < 0) return at.Error("\"label\" is missing (give it in the object or a labels file)");
    task.samples.push_back(SharedContextSample(std::move(id), "Question: " + goal + "\nAnswer:", {sol1, sol2},
                                               static_cast<int32_t>(label)));
    return absl::OkStatus();
  }));
  if (!labels_path.empty() && file_labels.size() != task.samples.size())
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d labels for the %d rows of %s", labels_path,
                                                      file_labels.size(), task.samples.size(), path));
  return task;
}

}  // namespace qsweep::tasks
