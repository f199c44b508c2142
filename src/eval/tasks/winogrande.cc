#include "eval/tasks/winogrande.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"
#include "eval/tasks/python_text.h"

namespace qsweep::tasks {

absl::StatusOr<McTask> ImportWinogrande(const std::string& path, const std::string& name) {
  McTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    McSample s;
    QSWEEP_ASSIGN_OR_RETURN(s.id, ids.InsertOptional(at, j, "qID", task.samples.size()));
    QSWEEP_ASSIGN_OR_RETURN(std::string sentence, StringField(at, j, "sentence"));
    const size_t blank = sentence.find('_');  // lm-eval: sentence.index("_"), the first one
    if (blank == std::string::npos) return at.Error("\"sentence\" has no blank \"_\"");
    const std::string rest = PyStrip(std::string_view(sentence).substr(blank + 1));
    if (rest.empty()) return at.Error("nothing after the blank \"_\" to score");
    for (const char* key : {"option1", "option2"}) {
      QSWEEP_ASSIGN_OR_RETURN(std::string option, StringField(at, j, key));
      s.contexts.push_back(sentence.substr(0, blank) + option);
      s.continuations.push_back(" " + rest);
    }
    QSWEEP_ASSIGN_OR_RETURN(const int64_t answer, IntOrDigitsField(at, j, "answer"));
    if (answer != 1 && answer != 2) return at.Error(absl::StrFormat("answer %d is not 1 or 2", answer));
    s.label = static_cast<int32_t>(answer - 1);
    s.target_delimiter.assign(1, ' ');  // lm-eval's default; assign() dodges a GCC 12 -Wrestrict false alarm
    task.samples.push_back(std::move(s));
    return absl::OkStatus();
  }));
  return task;
}

}  // namespace qsweep::tasks
