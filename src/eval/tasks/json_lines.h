// Reading JSON Lines with errors that point at "<file>:<line>", and typed
// field access whose errors say which field is missing or of the wrong type.
// Shared by the task reader and every JSONL importer.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qsweep::tasks {

using Json = nlohmann::json;

// A position in an input file, for messages "<file>:<line>: <what>".
struct FileLine {
  std::string path;
  int64_t line = 0;

  absl::Status Error(std::string_view what) const;
};

// Calls `row(object, where)` for every non-blank line, in order. A line that
// is not valid JSON or not an object is an error naming the line and the
// parser's reason. Errors: the file cannot be opened; it holds no object.
absl::Status ForEachJsonLine(const std::string& path,
                             const std::function<absl::Status(const Json&, const FileLine&)>& row);

// Typed fields of an object. `shown` is the name used in messages (e.g.
// "question.stem"); empty means `key`.
absl::StatusOr<const Json*> RequiredField(const FileLine& at, const Json& obj, std::string_view key,
                                          std::string_view shown = {});
absl::StatusOr<std::string> StringField(const FileLine& at, const Json& obj, std::string_view key,
                                        std::string_view shown = {});
absl::StatusOr<int64_t> IntField(const FileLine& at, const Json& obj, std::string_view key,
                                 std::string_view shown = {});
absl::StatusOr<bool> BoolField(const FileLine& at, const Json& obj, std::string_view key,
                               std::string_view shown = {});
absl::StatusOr<std::vector<std::string>> StringListField(const FileLine& at, const Json& obj, std::string_view key,
                                                         std::string_view shown = {});
// An id: a string, or an integer written in decimal.
absl::StatusOr<std::string> IdField(const FileLine& at, const Json& obj, std::string_view key,
                                    std::string_view shown = {});
// An integer given as a JSON integer or as a string of decimal digits
// (datasets on the HF hub store labels as "3").
absl::StatusOr<int64_t> IntOrDigitsField(const FileLine& at, const Json& obj, std::string_view key,
                                         std::string_view shown = {});

// Sample ids seen so far in one file; a repeat is an error naming both lines.
class SampleIdSet {
 public:
  absl::Status Insert(const std::string& id, const FileLine& at);
  // For datasets whose ids are optional: obj[key] when present (IdField),
  // else the sample's row number; inserted, so a repeat is an error.
  absl::StatusOr<std::string> InsertOptional(const FileLine& at, const Json& obj, std::string_view key, size_t row);

 private:
  std::unordered_map<std::string, int64_t> first_line_;
};

// Every line of a task file parsed by `parse(object, where)` into a sample
// with an `id` field, which must be unique in the file.
template <typename Sample, typename Parse>
absl::StatusOr<std::vector<Sample>> ReadJsonlSamples(const std::string& path, Parse parse) {
  std::vector<Sample> samples;
  SampleIdSet ids;
  absl::Status status = ForEachJsonLine(path, [&](const Json& j, const FileLine& at) -> absl::Status {
    absl::StatusOr<Sample> s = parse(j, at);
    if (!s.ok()) return s.status();
    if (absl::Status inserted = ids.Insert(s->id, at); !inserted.ok()) return inserted;
    samples.push_back(*std::move(s));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return samples;
}

}  // namespace qsweep::tasks
