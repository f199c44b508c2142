#include "eval/tasks/task.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "absl/strings/str_format.h"
#include "core/output_file.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"
#include "core/input_file.h"

namespace qsweep::tasks {
namespace {

absl::StatusOr<McSample> ParseSample(const Json& j, const FileLine& at) {
  McSample s;
  QSWEEP_ASSIGN_OR_RETURN(s.id, IdField(at, j, "id"));
  if (s.id.empty()) return at.Error("\"id\" is empty");
  std::string delimiter;
  if (j.contains("target_delimiter")) {
    QSWEEP_ASSIGN_OR_RETURN(delimiter, StringField(at, j, "target_delimiter"));
  }
  s.target_delimiter = delimiter;
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> choices, StringListField(at, j, "choices"));
  if (choices.empty()) return at.Error("\"choices\" is empty");
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].empty()) return at.Error(absl::StrFormat("\"choices\"[%d] is an empty string", i));
    s.continuations.push_back(delimiter + choices[i]);
  }
  const bool one = j.contains("context"), per_choice = j.contains("contexts");
  if (one && per_choice) return at.Error("give \"context\" or \"contexts\", not both");
  if (one) {
    QSWEEP_ASSIGN_OR_RETURN(std::string context, StringField(at, j, "context"));
    s.contexts.push_back(std::move(context));
  } else if (per_choice) {
    QSWEEP_ASSIGN_OR_RETURN(s.contexts, StringListField(at, j, "contexts"));
    if (s.contexts.size() != choices.size())
      return at.Error(absl::StrFormat("\"contexts\" has %d entries but \"choices\" has %d (one context per choice)",
                                      s.contexts.size(), choices.size()));
  } else {
    return at.Error("\"context\" is missing (or \"contexts\", one per choice)");
  }
  QSWEEP_ASSIGN_OR_RETURN(const int64_t label, IntField(at, j, "label"));
  if (label < 0 || label >= static_cast<int64_t>(choices.size()))
    return at.Error(absl::StrFormat("label %d out of range: %d choices, so 0..%d", label, choices.size(),
                                    choices.size() - 1));
  s.label = static_cast<int32_t>(label);
  return s;
}

// UTF-8 as RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF.
// Returns the offset of the first bad byte, or npos.
size_t FirstInvalidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) { n = 2; lo = 0xA0; }
    else if (c == 0xED) { n = 2; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) n = 2;
    else if (c == 0xF0) { n = 3; lo = 0x90; }
    else if (c == 0xF4) { n = 3; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else return i;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const unsigned char d = s[i + k];
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::string::npos;
}

}  // namespace

McSample SharedContextSample(std::string id, std::string context, const std::vector<std::string>& choices,
                             int32_t label, const std::string& delimiter) {
  McSample s;
  s.id = std::move(id);
  s.contexts.push_back(std::move(context));
  for (const std::string& c : choices) s.continuations.push_back(delimiter + c);
  s.label = label;
  s.target_delimiter = delimiter;
  return s;
}

int64_t ChoiceLength(const McSample& sample, size_t i) {
  const std::string& c = sample.continuations.at(i);
  int64_t n = 0;
  for (size_t k = sample.target_delimiter.size(); k < c.size(); ++k)
    n += (static_cast<unsigned char>(c[k]) & 0xC0) != 0x80;  // count lead bytes, not continuation bytes
  return n;
}

absl::StatusOr<McTask> ReadTaskJsonl(const std::string& path, const std::string& name) {
  QSWEEP_ASSIGN_OR_RETURN(std::vector<McSample> samples, ReadJsonlSamples<McSample>(path, ParseSample));
  return McTask{name, std::move(samples)};
}

absl::Status ValidateTask(const McTask& task) {
  if (task.samples.empty()) return absl::InvalidArgumentError(absl::StrFormat("task %s: no samples", task.name));
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < task.samples.size(); ++i) {
    const McSample& s = task.samples[i];
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrFormat("task %s, sample %d (id \"%s\"): %s", task.name, i, s.id, what));
    };
    if (s.id.empty()) return bad("empty id");
    if (!ids.insert(s.id).second) return bad("duplicate id");
    if (s.continuations.empty()) return bad("no continuations");
    for (const std::string& c : s.continuations) {
      if (c.empty()) return bad("an empty continuation");
      if (c.size() <= s.target_delimiter.size() || !c.starts_with(s.target_delimiter))
        return bad(absl::StrFormat("continuation \"%s\" is not the target delimiter \"%s\" followed by a choice", c,
                                   s.target_delimiter));
    }
    if (s.contexts.size() != 1 && s.contexts.size() != s.continuations.size())
      return bad(absl::StrFormat("%d contexts for %d continuations (1 or one each)", s.contexts.size(),
                                 s.continuations.size()));
    if (s.label < 0 || s.label >= static_cast<int32_t>(s.continuations.size()))
      return bad(absl::StrFormat("label %d out of range 0..%d", s.label, s.continuations.size() - 1));
  }
  return absl::OkStatus();
}

absl::Status WriteTaskJsonl(const std::string& path, const McTask& task) {
  QSWEEP_RETURN_IF_ERROR(ValidateTask(task));
  std::ostringstream text;
  for (const McSample& s : task.samples) {
    // Ordered keys: a file people read, in the order the format lists them.
    nlohmann::ordered_json j;
    j["id"] = s.id;
    if (s.contexts.size() == 1) j["context"] = s.contexts[0];
    else j["contexts"] = s.contexts;
    std::vector<std::string> choices;
    for (const std::string& c : s.continuations) choices.push_back(c.substr(s.target_delimiter.size()));
    j["choices"] = choices;
    j["label"] = s.label;
    if (!s.target_delimiter.empty()) j["target_delimiter"] = s.target_delimiter;
    try {
      text << j.dump() << "\n";
    } catch (const nlohmann::json::type_error& e) {  // a string that is not UTF-8
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: sample \"%s\" cannot be written as JSON (%s)", path, s.id, e.what()));
    }
  }
  QSWEEP_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Begin(path));
  {
    std::ofstream out(file.tmp(), std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", file.tmp()));
    out << text.str();
    out.close();
    if (!out) return absl::InternalError(absl::StrFormat("%s: write failed (disk full?)", file.tmp()));
  }
  return file.Commit();
}

absl::StatusOr<std::string> ReadTextCorpus(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the text corpus"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the text corpus", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = std::move(ss).str();
  if (text.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: empty text corpus", path));
  if (const size_t bad = FirstInvalidUtf8(text); bad != std::string::npos) {
    const int64_t line = 1 + std::count(text.begin(), text.begin() + bad, '\n');
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d: not UTF-8 (byte 0x%02x at offset %d)", path, line, static_cast<unsigned char>(text[bad]), bad));
  }
  return text;
}

}  // namespace qsweep::tasks
