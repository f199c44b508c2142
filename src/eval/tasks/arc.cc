#include "eval/tasks/arc.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"

namespace qsweep::tasks {
namespace {

// "1" <-> "A", ..., "5" <-> "E"; anything else has no other spelling.
std::string OtherLabelScheme(const std::string& key) {
  if (key.size() != 1) return "";
  if (key[0] >= '1' && key[0] <= '9') return std::string(1, static_cast<char>('A' + (key[0] - '1')));
  if (key[0] >= 'A' && key[0] <= 'I') return std::string(1, static_cast<char>('1' + (key[0] - 'A')));
  return "";
}

}  // namespace

absl::StatusOr<McTask> ImportArc(const std::string& path, const std::string& name) {
  McTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    QSWEEP_ASSIGN_OR_RETURN(std::string id, IdField(at, j, "id"));
    QSWEEP_RETURN_IF_ERROR(ids.Insert(id, at));
    QSWEEP_ASSIGN_OR_RETURN(const Json* question, RequiredField(at, j, "question"));
    if (!question->is_object()) return at.Error("\"question\" must be an object with \"stem\" and \"choices\"");
    QSWEEP_ASSIGN_OR_RETURN(std::string stem, StringField(at, *question, "stem", "question.stem"));
    QSWEEP_ASSIGN_OR_RETURN(const Json* choices, RequiredField(at, *question, "choices", "question.choices"));
    if (!choices->is_array() || choices->empty()) return at.Error("\"question.choices\" must be a non-empty list");
    std::vector<std::string> texts, labels;
    for (size_t i = 0; i < choices->size(); ++i) {
      const Json& c = (*choices)[i];
      const std::string shown = absl::StrFormat("question.choices[%d]", i);
      if (!c.is_object()) return at.Error(absl::StrFormat("\"%s\" must be an object", shown));
      QSWEEP_ASSIGN_OR_RETURN(std::string text, StringField(at, c, "text", shown + ".text"));
      QSWEEP_ASSIGN_OR_RETURN(std::string label, StringField(at, c, "label", shown + ".label"));
      if (text.empty()) return at.Error(absl::StrFormat("\"%s.text\" is empty", shown));
      texts.push_back(std::move(text));
      labels.push_back(std::move(label));
    }
    QSWEEP_ASSIGN_OR_RETURN(std::string key, StringField(at, j, "answerKey"));
    auto it = std::find(labels.begin(), labels.end(), key);
    if (const std::string other = OtherLabelScheme(key); it == labels.end() && !other.empty())
      it = std::find(labels.begin(), labels.end(), other);
    if (it == labels.end())
      return at.Error(absl::StrFormat("answerKey \"%s\" is not one of the choice labels (%s)", key,
                                      absl::StrJoin(labels, ", ")));
    task.samples.push_back(SharedContextSample(std::move(id), "Question: " + stem + "\nAnswer:", texts,
                                               static_cast<int32_t>(it - labels.begin())));
    return absl::OkStatus();
  }));
  return task;
}

}  // namespace qsweep::tasks
