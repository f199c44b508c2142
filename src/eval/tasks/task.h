// The unified multiple-choice task: what every importer produces and what
// `qsweep prepare` tokenizes. Text only; the strings here are exactly the
// strings scored (docs/tasks.md).
//
// JSONL, one sample per line:
//   {"id": "add-0001", "context": "12+57=", "choices": ["59", "69"], "label": 1}
//   "contexts": [...] instead of "context": one context per choice (partial
//   scoring, WinoGrande). "target_delimiter": prepended to every choice
//   (default "": choices are scored exactly as written).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qsweep::tasks {

struct McSample {
  std::string id;
  // One context shared by all choices, or one per choice (partial scoring).
  std::vector<std::string> contexts;
  // Exactly the strings scored, target delimiter included, e.g. " Paris".
  std::vector<std::string> continuations;
  int32_t label = 0;
  // The prefix every continuation starts with that is not part of the
  // answer (lm-eval's target_delimiter, " " for its tasks). Scored all the
  // same; kept so that acc_norm can divide by the answer's length as lm-eval
  // does (ChoiceLength) and so the JSONL writer can write choices as given.
  std::string target_delimiter;

  bool operator==(const McSample&) const = default;
};

// lm-eval's acc_norm length of choice `i`: len() of the choice string in
// Python, i.e. Unicode code points of the continuation less the target
// delimiter (lm-eval: completion_len = [len(c) for c in doc_to_choice(doc)]).
int64_t ChoiceLength(const McSample& sample, size_t i);

struct McTask {
  std::string name;
  std::vector<McSample> samples;

  bool operator==(const McTask&) const = default;
};

// A sample whose choices share one context, each scored as
// `delimiter + choice` (lm-eval's target_delimiter, " " for every task here).
McSample SharedContextSample(std::string id, std::string context, const std::vector<std::string>& choices,
                             int32_t label, const std::string& delimiter = " ");

// Errors name "<file>:<line>:" and the problem: invalid JSON (with the
// parser's reason), a missing or ill-typed field, an empty choices list, an
// empty choice, a label out of range, a duplicate id, a contexts list whose
// length differs from the choices'; "<file>:" for a missing or empty file.
absl::StatusOr<McTask> ReadTaskJsonl(const std::string& path, const std::string& name);

// Writes what ReadTaskJsonl reads back equal: "choices" are the
// continuations less the target delimiter, written as "target_delimiter"
// when not empty. Refuses a task that would not read back (names the sample).
// Writes to "<path>.tmp" and renames, so a failed write leaves no half file.
absl::Status WriteTaskJsonl(const std::string& path, const McTask& task);

// The invariants ReadTaskJsonl enforces, for tasks built in memory: at least
// one sample; per sample a non-empty id unique in the task, at least one
// non-empty continuation, 1 or n_choices contexts, label in range, every
// continuation starting with the target delimiter and longer than it.
absl::Status ValidateTask(const McTask& task);

// A plain-text corpus for perplexity (WikiText-style raw text), verbatim.
// Errors: a missing or empty file, bytes that are not UTF-8 (with the line
// and byte offset of the first bad one).
absl::StatusOr<std::string> ReadTextCorpus(const std::string& path);

}  // namespace qsweep::tasks
