#include "eval/tasks/boolq.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportBoolq(const std::string& path, const std::string& name) {
  McTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    QSWEEP_ASSIGN_OR_RETURN(std::string id, ids.InsertOptional(at, j, "idx", task.samples.size()));
    QSWEEP_ASSIGN_OR_RETURN(std::string question, StringField(at, j, "question"));
    QSWEEP_ASSIGN_OR_RETURN(std::string passage, StringField(at, j, "passage"));
    bool yes = false;
    if (j.contains("answer")) {
      QSWEEP_ASSIGN_OR_RETURN(yes, BoolField(at, j, "answer"));
    } else if (j.contains("label")) {
      QSWEEP_ASSIGN_OR_RETURN(const int64_t label, IntField(at, j, "label"));
      if (label != 0 && label != 1) return at.Error(absl::StrFormat("label %d out of range: 2 choices, so 0..1", label));
      yes = label == 1;
    } else {
      return at.Error("\"answer\" is missing (true/false; or \"label\" 0/1)");
    }
    task.samples.push_back(SharedContextSample(std::move(id), passage + "\nQuestion: " + question + "?\nAnswer:",
                                               {"no", "yes"}, yes ? 1 : 0));
    return absl::OkStatus();
  }));
  return task;
}

}  // namespace qsweep::tasks
