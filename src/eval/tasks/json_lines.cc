#include "eval/tasks/json_lines.h"

#include <fstream>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "core/input_file.h"

namespace qsweep::tasks {
namespace {

std::string Shown(std::string_view key, std::string_view shown) {
  return std::string(shown.empty() ? key : shown);
}

// nlohmann's message says "parse error at line 1, column 7: <reason>"; its
// line is always 1 (we parse one line), so keep only from "column" on.
std::string ParseReason(const nlohmann::json::parse_error& e) {
  const std::string what = e.what();
  const size_t column = what.find("column ");
  return column == std::string::npos ? what : what.substr(column);
}

}  // namespace

absl::Status FileLine::Error(std::string_view what) const {
  return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s", path, line, what));
}

absl::Status ForEachJsonLine(const std::string& path,
                             const std::function<absl::Status(const Json&, const FileLine&)>& row) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "a task file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the file", path));
  FileLine at{path, 0};
  int64_t rows = 0;
  std::string text;
  while (std::getline(in, text)) {
    ++at.line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(text);
    } catch (const Json::parse_error& e) {
      return at.Error(absl::StrFormat("invalid JSON: %s", ParseReason(e)));
    } catch (const Json::exception& e) {  // e.g. a number too large for a double
      return at.Error(absl::StrFormat("invalid JSON: %s", e.what()));
    }
    if (!j.is_object()) return at.Error(absl::StrFormat("expected a JSON object, got %s", j.type_name()));
    ++rows;
    try {
      if (absl::Status s = row(j, at); !s.ok()) return s;
    } catch (const Json::exception& e) {  // a bug of a row reader, reported with its line all the same
      return at.Error(absl::StrFormat("unexpected content (%s)", e.what()));
    }
  }
  if (rows == 0) return absl::InvalidArgumentError(absl::StrFormat("%s: empty file (no JSON objects)", path));
  return absl::OkStatus();
}

absl::StatusOr<const Json*> RequiredField(const FileLine& at, const Json& obj, std::string_view key,
                                          std::string_view shown) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end()) return at.Error(absl::StrFormat("\"%s\" is missing", Shown(key, shown)));
  return &*it;
}

absl::StatusOr<std::string> StringField(const FileLine& at, const Json& obj, std::string_view key,
                                        std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if (!(*f)->is_string())
    return at.Error(absl::StrFormat("\"%s\" must be a string, got %s", Shown(key, shown), (*f)->type_name()));
  return (*f)->get<std::string>();
}

absl::StatusOr<int64_t> IntField(const FileLine& at, const Json& obj, std::string_view key, std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if (!(*f)->is_number_integer())
    return at.Error(absl::StrFormat("\"%s\" must be an integer, got %s", Shown(key, shown),
                                    (*f)->is_number() ? "a fraction" : (*f)->type_name()));
  if ((*f)->is_number_unsigned() && (*f)->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return at.Error(absl::StrFormat("\"%s\" is too large", Shown(key, shown)));
  return (*f)->get<int64_t>();
}

absl::StatusOr<bool> BoolField(const FileLine& at, const Json& obj, std::string_view key, std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if (!(*f)->is_boolean())
    return at.Error(absl::StrFormat("\"%s\" must be true or false, got %s", Shown(key, shown), (*f)->type_name()));
  return (*f)->get<bool>();
}

absl::StatusOr<std::vector<std::string>> StringListField(const FileLine& at, const Json& obj, std::string_view key,
                                                         std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if (!(*f)->is_array())
    return at.Error(absl::StrFormat("\"%s\" must be a list of strings, got %s", Shown(key, shown), (*f)->type_name()));
  std::vector<std::string> out;
  for (size_t i = 0; i < (*f)->size(); ++i) {
    const Json& e = (**f)[i];
    if (!e.is_string())
      return at.Error(absl::StrFormat("\"%s\"[%d] must be a string, got %s", Shown(key, shown), i, e.type_name()));
    out.push_back(e.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::string> IdField(const FileLine& at, const Json& obj, std::string_view key, std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if ((*f)->is_string()) return (*f)->get<std::string>();
  if ((*f)->is_number_integer()) return (*f)->dump();
  return at.Error(absl::StrFormat("\"%s\" must be a string or an integer, got %s", Shown(key, shown),
                                  (*f)->type_name()));
}

absl::StatusOr<int64_t> IntOrDigitsField(const FileLine& at, const Json& obj, std::string_view key,
                                         std::string_view shown) {
  auto f = RequiredField(at, obj, key, shown);
  if (!f.ok()) return f.status();
  if ((*f)->is_string()) {
    const std::string s = (*f)->get<std::string>();
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
      return at.Error(absl::StrFormat("\"%s\" must be an integer, got \"%s\"", Shown(key, shown), s));
    return std::stoll(s);
  }
  return IntField(at, obj, key, shown);
}

absl::Status SampleIdSet::Insert(const std::string& id, const FileLine& at) {
  const auto [it, inserted] = first_line_.emplace(id, at.line);
  if (!inserted) return at.Error(absl::StrFormat("duplicate id \"%s\" (first on line %d)", id, it->second));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SampleIdSet::InsertOptional(const FileLine& at, const Json& obj, std::string_view key,
                                                         size_t row) {
  std::string id = std::to_string(row);
  if (obj.contains(std::string(key))) {
    QSWEEP_ASSIGN_OR_RETURN(id, IdField(at, obj, key));
  }
  QSWEEP_RETURN_IF_ERROR(Insert(id, at));
  return id;
}

}  // namespace qsweep::tasks
