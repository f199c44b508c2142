// The unified multiple-choice task format (JSONL, one sample per line; see
// docs/tasks.md) and plain-text corpora for perplexity.
//   {"id": "add-0001", "context": "12+57=", "choices": ["59", "69"], "label": 1}
//   "contexts": [...] instead of "context": one context per choice (partial
//   scoring, WinoGrande); "target_delimiter": prepended to every choice
//   (default ""), e.g. " " as lm-evaluation-harness uses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

struct McSample {
  std::string id;
  std::vector<std::string> contexts;       // one shared, or one per choice
  std::vector<std::string> continuations;  // exactly the strings scored
  int32_t label = 0;
};

struct McTask {
  std::string name;
  std::vector<McSample> samples;
};

// Errors: "<file>:<line>: <problem>" for invalid JSON, missing or ill-typed
// fields, no choices, an empty choice, a label out of range, duplicate ids,
// contexts/choices count mismatch; an empty or missing file.
absl::StatusOr<McTask> ReadTaskJsonl(const std::string& path, const std::string& name);
absl::Status WriteTaskJsonl(const std::string& path, const McTask& task);

// A UTF-8 text file, verbatim; an empty or missing file is an error.
absl::StatusOr<std::string> ReadTextCorpus(const std::string& path);

}  // namespace qsweep
