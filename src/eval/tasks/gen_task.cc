#include "eval/tasks/gen_task.h"

#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_format.h"
#include "core/output_file.h"
#include "core/status_macros.h"
#include "eval/tasks/json_lines.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep::tasks {
namespace {

// One compiled PCRE2 pattern (UTF, Unicode properties as Python's str
// patterns have them), immutable once built: shared by threads, each
// matching with match data of its own.
class CompiledPattern {
 public:
  // Errors: "does not compile: <PCRE2's message> at offset <n>".
  static absl::StatusOr<std::shared_ptr<const CompiledPattern>> Compile(std::string_view pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return absl::InvalidArgumentError(absl::StrFormat("does not compile: %s at offset %d",
                                                        reinterpret_cast<const char*>(message),
                                                        static_cast<int64_t>(offset)));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without a JIT pcre2_match interprets: same result
    uint32_t groups = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
    return std::shared_ptr<const CompiledPattern>(new CompiledPattern(code, groups));
  }

  ~CompiledPattern() { pcre2_code_free(code_); }
  CompiledPattern(const CompiledPattern&) = delete;
  CompiledPattern& operator=(const CompiledPattern&) = delete;

  // The text lm-eval's RegexFilter takes from the first or last match of
  // re.findall in `text` (valid UTF-8): nullopt when nothing matches or
  // every group of the chosen match is empty (its fallback).
  absl::StatusOr<std::optional<std::string>> Extract(std::string_view text, bool last) const {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    if (data == nullptr) return absl::ResourceExhaustedError("out of memory for PCRE2 match data");
    std::optional<std::string> found;
    size_t start = 0;
    uint32_t options = 0;
    while (true) {
      const int rc = Match(text, start, options, data.get());
      if (rc == PCRE2_ERROR_NOMATCH) {
        // After an empty match, no non-empty one starts at the same place:
        // move on one character and search normally (as Python does).
        if (options == 0 || start >= text.size()) break;
        start += Utf8CharLength(text, start);
        options = 0;
        continue;
      }
      if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof(message));
        return absl::ResourceExhaustedError(
            absl::StrFormat("matching failed: %s", reinterpret_cast<const char*>(message)));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
      found = Pick(text, ov, rc);
      if (!last) break;
      if (ov[1] < start || ov[1] < ov[0]) break;  // \K tricks: stop rather than loop
      options = ov[0] == ov[1] ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
      start = ov[1];
    }
    return found;
  }

 private:
  CompiledPattern(pcre2_code* code, uint32_t groups) : code_(code), groups_(groups) {}

  // A pattern that backtracks catastrophically on some generation ("(a+)+$")
  // would take exponential time: the match limits bound each search to
  // about a second of backtracking, after which it fails with an error.
  static pcre2_match_context* Limits() {
    static pcre2_match_context* context = [] {
      pcre2_match_context* c = pcre2_match_context_create(nullptr);
      pcre2_set_match_limit(c, 5'000'000);
      pcre2_set_depth_limit(c, 250'000);
      return c;
    }();
    return context;
  }

  int Match(std::string_view text, size_t start, uint32_t options, pcre2_match_data* data) const {
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(code_, subject, text.size(), start, options | PCRE2_NO_UTF_CHECK, data, Limits());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the JIT's small stack ran out: interpret instead
      rc = pcre2_match(code_, subject, text.size(), start, options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data,
                       Limits());
    return rc;
  }

  // findall's element: the whole match without groups, group 1 with one,
  // and with several the first non-empty group (lm-eval's tuple handling).
  std::optional<std::string> Pick(std::string_view text, const PCRE2_SIZE* ov, int rc) const {
    auto group = [&](uint32_t g) -> std::string_view {
      if (static_cast<int>(g) >= rc || ov[2 * g] == PCRE2_UNSET) return {};
      return text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    };
    if (groups_ == 0) return std::string(group(0));
    if (groups_ == 1) return std::string(group(1));
    for (uint32_t g = 1; g <= groups_; ++g)
      if (!group(g).empty()) return std::string(group(g));
    return std::nullopt;
  }

  pcre2_code* code_;
  uint32_t groups_;
};

// Compiled patterns by their text. A task holds a handful of distinct
// patterns; the cap only guards against a caller feeding endless new ones.
absl::StatusOr<std::shared_ptr<const CompiledPattern>> CachedPattern(const std::string& pattern) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<const CompiledPattern>>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache->find(pattern); it != cache->end()) return it->second;
  }
  QSWEEP_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPattern> compiled, CompiledPattern::Compile(pattern));
  std::lock_guard<std::mutex> lock(mutex);
  if (cache->size() >= 1024) cache->clear();
  cache->emplace(pattern, compiled);
  return compiled;
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

absl::StatusOr<GenSample> ParseSample(const Json& j, const FileLine& at) {
  GenSample s;
  QSWEEP_ASSIGN_OR_RETURN(s.id, IdField(at, j, "id"));
  if (s.id.empty()) return at.Error("\"id\" is empty");
  QSWEEP_ASSIGN_OR_RETURN(s.prompt, StringField(at, j, "prompt"));
  if (s.prompt.empty()) return at.Error("\"prompt\" is empty");
  QSWEEP_ASSIGN_OR_RETURN(s.answers, StringListField(at, j, "answers"));
  if (s.answers.empty()) return at.Error("\"answers\" is empty");
  for (size_t i = 0; i < s.answers.size(); ++i)
    if (NormalizeAnswer(s.answers[i]).empty())
      return at.Error(absl::StrFormat("\"answers\"[%d] (\"%s\") is empty once normalized", i, s.answers[i]));
  if (j.contains("scorer")) {
    QSWEEP_ASSIGN_OR_RETURN(const std::string scorer, StringField(at, j, "scorer"));
    if (scorer == "regex") s.scorer.kind = AnswerScorer::Kind::kRegex;
    else if (scorer != "exact")
      return at.Error(absl::StrFormat("unknown \"scorer\" \"%s\" (known: exact, regex)", scorer));
  }
  const bool regex = s.scorer.kind == AnswerScorer::Kind::kRegex;
  for (const char* key : {"pattern", "select"})
    if (j.contains(key) && !regex)
      return at.Error(absl::StrFormat("\"%s\" is only for \"scorer\": \"regex\"", key));
  if (regex) {
    if (!j.contains("pattern")) return at.Error("\"pattern\" is missing (\"scorer\": \"regex\" needs one)");
    QSWEEP_ASSIGN_OR_RETURN(s.scorer.pattern, StringField(at, j, "pattern"));
    if (s.scorer.pattern.empty()) return at.Error("\"pattern\" is empty");
    if (auto compiled = CachedPattern(s.scorer.pattern); !compiled.ok())
      return at.Error(absl::StrFormat("\"pattern\" %s", compiled.status().message()));
    if (j.contains("select")) {
      QSWEEP_ASSIGN_OR_RETURN(const std::string select, StringField(at, j, "select"));
      if (select == "last") s.scorer.last_match = true;
      else if (select != "first")
        return at.Error(absl::StrFormat("unknown \"select\" \"%s\" (known: first, last)", select));
    }
  }
  if (j.contains("stop")) {
    QSWEEP_ASSIGN_OR_RETURN(s.stop, StringListField(at, j, "stop"));
    for (size_t i = 0; i < s.stop.size(); ++i)
      if (s.stop[i].empty()) return at.Error(absl::StrFormat("\"stop\"[%d] is an empty string", i));
  }
  if (j.contains("max_tokens")) {
    QSWEEP_ASSIGN_OR_RETURN(const int64_t max_tokens, IntField(at, j, "max_tokens"));
    if (max_tokens < 1 || max_tokens > kMaxGenTokens)
      return at.Error(absl::StrFormat("\"max_tokens\" %d out of range 1..%d", max_tokens, kMaxGenTokens));
    s.max_tokens = static_cast<int32_t>(max_tokens);
  }
  return s;
}

}  // namespace

std::string NormalizeAnswer(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (const char c : s) {
    if (c == ',' || c == '$') continue;
    if (IsAsciiSpace(c)) {
      pending_space = !out.empty();  // leading whitespace makes no space
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  // Trailing whitespace was left pending, never written.
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

absl::StatusOr<AnswerScore> ScoreAnswer(const GenSample& sample, std::string_view generation) {
  AnswerScore score;
  if (sample.scorer.kind == AnswerScorer::Kind::kExact) {
    score.extracted = NormalizeAnswer(generation);
  } else {
    auto compiled = CachedPattern(sample.scorer.pattern);
    if (!compiled.ok())
      return absl::InvalidArgumentError(
          absl::StrFormat("sample \"%s\": pattern %s", sample.id, compiled.status().message()));
    const std::string text = RepairUtf8(generation);  // PCRE2_UTF matches valid UTF-8 only
    auto found = (*compiled)->Extract(text, sample.scorer.last_match);
    if (!found.ok())
      return absl::Status(found.status().code(),
                          absl::StrFormat("sample \"%s\": pattern \"%s\": %s", sample.id, sample.scorer.pattern,
                                          found.status().message()));
    if (!found->has_value()) return score;
    score.extracted = NormalizeAnswer(**found);
  }
  if (score.extracted.empty()) return score;  // no answer normalizes to ""
  for (const std::string& a : sample.answers)
    if (NormalizeAnswer(a) == score.extracted) {
      score.correct = true;
      break;
    }
  return score;
}

absl::StatusOr<GenTask> ReadGenTaskJsonl(const std::string& path, const std::string& name) {
  QSWEEP_ASSIGN_OR_RETURN(std::vector<GenSample> samples, ReadJsonlSamples<GenSample>(path, ParseSample));
  return GenTask{name, std::move(samples)};
}

absl::Status ValidateGenTask(const GenTask& task) {
  if (task.samples.empty()) return absl::InvalidArgumentError(absl::StrFormat("task %s: no samples", task.name));
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < task.samples.size(); ++i) {
    const GenSample& s = task.samples[i];
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrFormat("task %s, sample %d (id \"%s\"): %s", task.name, i, s.id, what));
    };
    if (s.id.empty()) return bad("empty id");
    if (!ids.insert(s.id).second) return bad("duplicate id");
    if (s.prompt.empty()) return bad("empty prompt");
    if (s.answers.empty()) return bad("no answers");
    for (const std::string& a : s.answers)
      if (NormalizeAnswer(a).empty()) return bad(absl::StrFormat("answer \"%s\" is empty once normalized", a));
    if (s.scorer.kind == AnswerScorer::Kind::kExact) {
      if (!s.scorer.pattern.empty()) return bad("a pattern on an exact scorer");
      if (s.scorer.last_match) return bad("last_match on an exact scorer");
    } else {
      if (s.scorer.pattern.empty()) return bad("a regex scorer without a pattern");
      if (auto compiled = CachedPattern(s.scorer.pattern); !compiled.ok())
        return bad(absl::StrFormat("pattern \"%s\" %s", s.scorer.pattern, compiled.status().message()));
    }
    for (const std::string& stop : s.stop)
      if (stop.empty()) return bad("an empty stop string");
    if (s.max_tokens != 0 && (s.max_tokens < 1 || s.max_tokens > kMaxGenTokens))
      return bad(absl::StrFormat("max_tokens %d out of range 1..%d (or 0: the default)", s.max_tokens, kMaxGenTokens));
  }
  return absl::OkStatus();
}

absl::Status WriteGenTaskJsonl(const std::string& path, const GenTask& task) {
  QSWEEP_RETURN_IF_ERROR(ValidateGenTask(task));
  std::ostringstream text;
  for (const GenSample& s : task.samples) {
    // Ordered keys, in the order the format lists them; defaults left out.
    nlohmann::ordered_json j;
    j["id"] = s.id;
    j["prompt"] = s.prompt;
    j["answers"] = s.answers;
    if (s.scorer.kind == AnswerScorer::Kind::kRegex) {
      j["scorer"] = "regex";
      j["pattern"] = s.scorer.pattern;
      if (s.scorer.last_match) j["select"] = "last";
    }
    if (!s.stop.empty()) j["stop"] = s.stop;
    if (s.max_tokens != 0) j["max_tokens"] = s.max_tokens;
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

}  // namespace qsweep::tasks
