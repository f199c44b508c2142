#include "eval/task_file.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"

namespace qsweep {
namespace {

absl::Status LineError(const std::string& path, int64_t line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s", path, line, what));
}

}  // namespace

absl::StatusOr<McTask> ReadTaskJsonl(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the task file", path));
  McTask task;
  task.name = name;
  std::set<std::string> ids;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return LineError(path, line, absl::StrFormat("invalid JSON (%s)", e.what()));
    }
    if (!j.is_object()) return LineError(path, line, "expected a JSON object");
    McSample s;
    if (!j.contains("id") || !(j["id"].is_string() || j["id"].is_number_integer()))
      return LineError(path, line, "\"id\" missing or not a string/integer");
    s.id = j["id"].is_string() ? j["id"].get<std::string>() : std::to_string(j["id"].get<int64_t>());
    if (!ids.insert(s.id).second) return LineError(path, line, absl::StrFormat("duplicate id '%s'", s.id));
    std::string delimiter;
    if (j.contains("target_delimiter")) {
      if (!j["target_delimiter"].is_string()) return LineError(path, line, "\"target_delimiter\" must be a string");
      delimiter = j["target_delimiter"].get<std::string>();
    }
    if (!j.contains("choices") || !j["choices"].is_array())
      return LineError(path, line, "\"choices\" missing or not a list");
    if (j["choices"].empty()) return LineError(path, line, "\"choices\" is empty");
    for (const auto& c : j["choices"]) {
      if (!c.is_string()) return LineError(path, line, "every choice must be a string");
      if (c.get<std::string>().empty()) return LineError(path, line, "an empty choice");
      s.continuations.push_back(delimiter + c.get<std::string>());
    }
    if (j.contains("context") == j.contains("contexts"))
      return LineError(path, line, "exactly one of \"context\" and \"contexts\" is required");
    if (j.contains("context")) {
      if (!j["context"].is_string()) return LineError(path, line, "\"context\" must be a string");
      s.contexts.push_back(j["context"].get<std::string>());
    } else {
      if (!j["contexts"].is_array() || j["contexts"].size() != s.continuations.size())
        return LineError(path, line, absl::StrFormat("\"contexts\" must list one string per choice (%d)",
                                                     s.continuations.size()));
      for (const auto& c : j["contexts"]) {
        if (!c.is_string()) return LineError(path, line, "every context must be a string");
        s.contexts.push_back(c.get<std::string>());
      }
    }
    if (!j.contains("label") || !j["label"].is_number_integer())
      return LineError(path, line, "\"label\" missing or not an integer");
    const int64_t label = j["label"].get<int64_t>();
    if (label < 0 || label >= static_cast<int64_t>(s.continuations.size()))
      return LineError(path, line, absl::StrFormat("label %d out of range [0, %d)", label, s.continuations.size()));
    s.label = static_cast<int32_t>(label);
    task.samples.push_back(std::move(s));
  }
  if (task.samples.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: no samples", path));
  return task;
}

absl::Status WriteTaskJsonl(const std::string& path, const McTask& task) {
  std::ofstream out(path);
  if (!out) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", path));
  for (const McSample& s : task.samples) {
    nlohmann::json j;
    j["id"] = s.id;
    if (s.contexts.size() == 1) j["context"] = s.contexts[0];
    else j["contexts"] = s.contexts;
    j["choices"] = s.continuations;
    j["label"] = s.label;
    out << j.dump() << "\n";
  }
  return out.good() ? absl::OkStatus() : absl::InternalError(absl::StrFormat("%s: write failed", path));
}

absl::StatusOr<std::string> ReadTextCorpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the text corpus", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: empty text corpus", path));
  return ss.str();
}

}  // namespace qsweep
