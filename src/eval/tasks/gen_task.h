// The generative (free-form answer) task: a prompt, the model's greedy
// continuation, and the answers it is scored against (docs/tasks.md,
// "Generative tasks"). Text only, like task.h.
//
// JSONL, one sample per line:
//   {"id": "add-0000", "prompt": "15+40=", "answers": ["55"]}
//   {"id": "gsm-1", "prompt": "Question: ...\nAnswer:", "answers": ["72"],
//    "scorer": "regex", "pattern": "#### (\\-?[0-9\\.\\,]+)", "select": "first",
//    "stop": ["Question:"], "max_tokens": 256}
// "scorer": "exact" (default) or "regex"; "pattern" (regex only, required)
// and "select": "first" (default) or "last" match; "stop": stop strings of
// the generation (default none); "max_tokens": 1..4096 (default: the task
// runner's).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qsweep::tasks {

struct AnswerScorer {
  enum class Kind { kExact, kRegex };
  Kind kind = Kind::kExact;
  std::string pattern;     // kRegex only: a PCRE2 pattern (UTF, Unicode properties)
  bool last_match = false;  // kRegex only: score the last match instead of the first

  bool operator==(const AnswerScorer&) const = default;
};

struct GenSample {
  std::string id;
  std::string prompt;                // exactly the text the model continues
  std::vector<std::string> answers;  // any one of them is correct
  AnswerScorer scorer;
  std::vector<std::string> stop;  // generation stops at the first of these (not included)
  int32_t max_tokens = 0;         // 0: the task runner's default; else 1..4096

  bool operator==(const GenSample&) const = default;
};

struct GenTask {
  std::string name;
  std::vector<GenSample> samples;

  bool operator==(const GenTask&) const = default;
};

// The largest "max_tokens" a sample may ask for.
inline constexpr int32_t kMaxGenTokens = 4096;

// Errors name "<file>:<line>:" and the problem: invalid JSON, a missing or
// ill-typed field, an empty id or prompt, an empty "answers" list or an
// answer that is empty once normalized, a duplicate id, an unknown "scorer"
// or "select" (listing the known values), "pattern"/"select" without
// scorer "regex", a regex scorer without "pattern", a pattern that does not
// compile (PCRE2's message and the offset in the pattern), an empty stop
// string, "max_tokens" outside 1..4096; "<file>:" for a missing or empty file.
absl::StatusOr<GenTask> ReadGenTaskJsonl(const std::string& path, const std::string& name);

// Writes what ReadGenTaskJsonl reads back equal ("scorer", "pattern",
// "select", "stop", "max_tokens" only where they differ from the defaults).
// Refuses a task that ValidateGenTask refuses. Writes to "<path>.tmp" and
// renames, so a failed write leaves no half file.
absl::Status WriteGenTaskJsonl(const std::string& path, const GenTask& task);

// The invariants ReadGenTaskJsonl enforces, for tasks built in memory: at
// least one sample; per sample a non-empty id unique in the task, a
// non-empty prompt, at least one answer and none empty once normalized, no
// pattern or last_match on an exact scorer, a non-empty pattern that
// compiles on a regex scorer, no empty stop string, max_tokens 0 or 1..4096.
absl::Status ValidateGenTask(const GenTask& task);

// The normalization exact matching applies to both the extracted text and
// every answer, as lm-eval's exact_match does for GSM8K (ignore_case, and
// regexes_to_ignore "," "\$" "\.$"), plus whitespace clean-up:
//   1. drop every ',' and '$';
//   2. trim ASCII whitespace (space, \t, \n, \v, \f, \r) at both ends;
//   3. collapse each run of ASCII whitespace inside to one space;
//   4. ASCII-lowercase (other bytes unchanged);
//   5. drop one trailing '.'.
// E.g. "  1,234. " -> "1234", "The  Answer\tIS" -> "the answer is", "$5" -> "5".
std::string NormalizeAnswer(std::string_view s);

struct AnswerScore {
  bool correct = false;
  std::string extracted;  // the normalized string compared against the answers
};

// exact: NormalizeAnswer(generation) equals NormalizeAnswer of an answer.
// regex: take the first (or, with last_match, the last) match of the pattern
// in the generation; its first capture group when the pattern has groups
// (when it has several, the first that matched a non-empty string, as
// lm-eval's RegexFilter does with Python's findall tuples), else the whole
// match; normalized, it must equal a normalized answer. No match (or only
// empty groups): incorrect, extracted "". Matches are found as Python's
// re.findall finds them (an empty match may follow a non-empty one at the
// same place). Bytes of the generation that are not UTF-8 are matched as
// U+FFFD. Compiled patterns are cached (thread-safe), so calling this per
// sample compiles each distinct pattern once.
// Errors: a pattern that does not compile; PCRE2 giving up on a match
// (its match or depth limit).
absl::StatusOr<AnswerScore> ScoreAnswer(const GenSample& sample, std::string_view generation);

}  // namespace qsweep::tasks
