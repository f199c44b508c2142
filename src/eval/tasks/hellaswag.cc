#include "eval/tasks/hellaswag.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"
#include "eval/tasks/python_text.h"

namespace qsweep::tasks {
namespace {

// re.sub(r"\[.*?\]", "", s): at each '[', the shortest run to the next ']'
// that crosses no '\n' ('.' does not match it) is removed; a '[' without
// such a ']' stays. Linear: every '[' before the same stop (']', '\n' or the
// end) shares that stop, so each search starts where the last one ended.
std::string RemoveBracketed(const std::string& s) {
  std::string out;
  size_t i = 0, close = 0;  // close: the first ']' or '\n' after the last '[' searched from
  while (i < s.size()) {
    if (s[i] == '[') {
      if (close <= i) close = std::min(s.find_first_of("]\n", i + 1), s.size());
      if (close < s.size() && s[close] == ']') {
        i = close + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

}  // namespace

std::string HellaswagPreprocess(std::string_view text) {
  std::string s = PyStrip(text);
  s = absl::StrReplaceAll(s, {{" [title]", ". "}});
  s = RemoveBracketed(s);
  return absl::StrReplaceAll(s, {{"  ", " "}});
}

absl::StatusOr<McTask> ImportHellaswag(const std::string& path, const std::string& name) {
  McTask task{name, {}};
  SampleIdSet ids;
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    QSWEEP_ASSIGN_OR_RETURN(std::string id, ids.InsertOptional(at, j, "ind", task.samples.size()));
    QSWEEP_ASSIGN_OR_RETURN(std::string activity, StringField(at, j, "activity_label"));
    QSWEEP_ASSIGN_OR_RETURN(std::string ctx_a, StringField(at, j, "ctx_a"));
    QSWEEP_ASSIGN_OR_RETURN(std::string ctx_b, StringField(at, j, "ctx_b"));
    QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> endings, StringListField(at, j, "endings"));
    if (endings.empty()) return at.Error("\"endings\" is empty");
    for (size_t i = 0; i < endings.size(); ++i) {
      endings[i] = HellaswagPreprocess(endings[i]);
      if (endings[i].empty()) return at.Error(absl::StrFormat("\"endings\"[%d] is empty after preprocessing", i));
    }
    QSWEEP_ASSIGN_OR_RETURN(const int64_t label, IntOrDigitsField(at, j, "label"));
    if (label < 0 || label >= static_cast<int64_t>(endings.size()))
      return at.Error(absl::StrFormat("label %d out of range: %d endings, so 0..%d", label, endings.size(),
                                      endings.size() - 1));
    const std::string ctx = ctx_a + " " + PyCapitalize(ctx_b);
    task.samples.push_back(SharedContextSample(std::move(id), HellaswagPreprocess(activity + ": " + ctx), endings,
                                               static_cast<int32_t>(label)));
    return absl::OkStatus();
  }));
  return task;
}

}  // namespace qsweep::tasks
