#include "eval/tasks/gsm8k.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"

namespace qsweep::tasks {

absl::StatusOr<GenTask> ImportGsm8k(const std::string& path, const std::string& name) {
  GenTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    GenSample s;
    QSWEEP_ASSIGN_OR_RETURN(s.id, ids.InsertOptional(at, j, "id", task.samples.size()));
    if (s.id.empty()) return at.Error("\"id\" is empty");
    QSWEEP_ASSIGN_OR_RETURN(const std::string question, StringField(at, j, "question"));
    QSWEEP_ASSIGN_OR_RETURN(const std::string answer, StringField(at, j, "answer"));
    const size_t mark = answer.rfind("####");
    if (mark == std::string::npos) return at.Error("\"answer\" has no \"#### <final answer>\"");
    const std::string final_answer(absl::StripAsciiWhitespace(absl::string_view(answer).substr(mark + 4)));
    if (NormalizeAnswer(final_answer).empty())
      return at.Error(absl::StrFormat("\"answer\" has nothing after its last \"####\" (\"%s\")", final_answer));
    s.prompt = "Question: " + question + "\nAnswer:";
    s.answers = {final_answer};
    s.scorer.kind = AnswerScorer::Kind::kRegex;
    s.scorer.pattern = kGsm8kStrictPattern;
    s.scorer.last_match = false;
    s.stop = {"Question:", "</s>", "<|im_end|>"};
    s.max_tokens = 256;
    task.samples.push_back(std::move(s));
    return absl::OkStatus();
  }));
  return task;
}

}  // namespace qsweep::tasks
