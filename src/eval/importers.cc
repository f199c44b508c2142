#include "eval/importers.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/status_macros.h"
#include "eval/csv.h"

namespace qsweep {
namespace {

using Json = nlohmann::json;

absl::Status LineError(const std::string& path, int64_t line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s", path, line, what));
}

// Calls `f(json, line)` for every non-blank line.
template <typename F>
absl::Status ForEachJsonLine(const std::string& path, F f) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open", path));
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(text);
    } catch (const Json::parse_error& e) {
      return LineError(path, line, absl::StrFormat("invalid JSON (%s)", e.what()));
    }
    try {
      QSWEEP_RETURN_IF_ERROR(f(j, line));
    } catch (const Json::exception& e) {
      return LineError(path, line, absl::StrFormat("unexpected fields (%s)", e.what()));
    }
  }
  return absl::OkStatus();
}

std::string Strip(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\n\r"), b = s.find_last_not_of(" \t\n\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Python's str.capitalize() for ASCII: first letter upper, the rest lower.
std::string Capitalize(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) s[i] = i == 0 ? std::toupper(s[i]) : std::tolower(s[i]);
  return s;
}

McSample Sample(std::string id, std::string context, const std::vector<std::string>& choices, int label,
                const std::string& delimiter = " ") {
  McSample s;
  s.id = std::move(id);
  s.contexts = {std::move(context)};
  for (const auto& c : choices) s.continuations.push_back(delimiter + c);
  s.label = label;
  return s;
}

absl::Status CheckLabel(const std::string& path, int64_t line, int label, size_t n) {
  if (label < 0 || label >= static_cast<int>(n))
    return LineError(path, line, absl::StrFormat("label %d out of range [0, %d)", label, n));
  return absl::OkStatus();
}

absl::StatusOr<McTask> Arc(const std::string& path, const std::string& name) {
  McTask t{name, {}};
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, int64_t line) -> absl::Status {
    const Json& q = j.at("question");
    std::vector<std::string> texts, labels;
    for (const Json& c : q.at("choices")) {
      texts.push_back(c.at("text").get<std::string>());
      labels.push_back(c.at("label").get<std::string>());
    }
    const std::string key = j.at("answerKey").get<std::string>();
    const auto it = std::find(labels.begin(), labels.end(), key);
    if (it == labels.end()) return LineError(path, line, absl::StrFormat("answerKey '%s' is not a choice label", key));
    t.samples.push_back(Sample(j.at("id").get<std::string>(), "Question: " + q.at("stem").get<std::string>() + "\nAnswer:",
                               texts, static_cast<int>(it - labels.begin())));
    return absl::OkStatus();
  }));
  return t;
}

absl::StatusOr<McTask> Hellaswag(const std::string& path, const std::string& name) {
  McTask t{name, {}};
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, int64_t line) -> absl::Status {
    const std::string ctx = j.at("ctx_a").get<std::string>() + " " + Capitalize(j.at("ctx_b").get<std::string>());
    std::vector<std::string> endings;
    for (const Json& e : j.at("endings")) endings.push_back(HellaswagPreprocess(e.get<std::string>()));
    const int label = j.at("label").is_string() ? std::stoi(j.at("label").get<std::string>()) : j.at("label").get<int>();
    QSWEEP_RETURN_IF_ERROR(CheckLabel(path, line, label, endings.size()));
    const std::string id = j.contains("ind") ? std::to_string(j.at("ind").get<int64_t>()) : std::to_string(line);
    t.samples.push_back(Sample(id, HellaswagPreprocess(j.at("activity_label").get<std::string>() + ": " + ctx), endings, label));
    return absl::OkStatus();
  }));
  return t;
}

absl::StatusOr<std::vector<std::vector<std::string>>> ReadMmluCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  QSWEEP_ASSIGN_OR_RETURN(auto rows, ParseCsv(ss.str(), path));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() != 6)
      return absl::InvalidArgumentError(absl::StrFormat("%s: row %d has %d fields, expected 6 (question, A, B, C, D, answer)",
                                                        path, i + 1, rows[i].size()));
    const std::string& a = rows[i][5];
    if (a != "A" && a != "B" && a != "C" && a != "D")
      return absl::InvalidArgumentError(absl::StrFormat("%s: row %d: answer '%s' is not A-D", path, i + 1, a));
  }
  return rows;
}

std::string MmluQuestion(const std::vector<std::string>& r) {
  return Strip(r[0]) + "\nA. " + r[1] + "\nB. " + r[2] + "\nC. " + r[3] + "\nD. " + r[4] + "\nAnswer:";
}

absl::StatusOr<McTask> Mmlu(const std::string& path, const std::string& name, const ImportOptions& o) {
  namespace fs = std::filesystem;
  std::string subject = fs::path(path).stem().string();
  for (const char* suffix : {"_test", "_val", "_dev"})
    if (subject.ends_with(suffix)) subject.resize(subject.size() - std::string(suffix).size());
  QSWEEP_ASSIGN_OR_RETURN(auto rows, ReadMmluCsv(path));
  std::string prompt = "The following are multiple choice questions (with answers) about " +
                       absl::StrReplaceAll(subject, {{"_", " "}}) + ".\n\n";
  if (o.fewshot > 0) {
    const std::string dev = !o.fewshot_path.empty()
                                ? o.fewshot_path
                                : (fs::path(path).parent_path().parent_path() / "dev" / (subject + "_dev.csv")).string();
    QSWEEP_ASSIGN_OR_RETURN(auto shots, ReadMmluCsv(dev));
    if (static_cast<int>(shots.size()) < o.fewshot)
      return absl::InvalidArgumentError(absl::StrFormat("%s: %d examples, %d shots asked for", dev, shots.size(), o.fewshot));
    for (int i = 0; i < o.fewshot; ++i) prompt += MmluQuestion(shots[i]) + " " + shots[i][5] + "\n\n";
  }
  McTask t{name, {}};
  for (size_t i = 0; i < rows.size(); ++i)
    t.samples.push_back(Sample(std::to_string(i), prompt + MmluQuestion(rows[i]), {"A", "B", "C", "D"}, rows[i][5][0] - 'A'));
  return t;
}

absl::StatusOr<McTask> Piqa(const std::string& path, const std::string& name, const ImportOptions& o) {
  std::vector<int> labels;
  if (!o.labels_path.empty()) {
    std::ifstream in(o.labels_path);
    if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the labels file", o.labels_path));
    for (std::string l; std::getline(in, l);)
      if (!Strip(l).empty()) labels.push_back(std::stoi(Strip(l)));
  }
  McTask t{name, {}};
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, int64_t line) -> absl::Status {
    const size_t i = t.samples.size();
    int label = -1;
    if (j.contains("label")) label = j.at("label").get<int>();
    else if (i < labels.size()) label = labels[i];
    else return LineError(path, line, "no label (give a labels file)");
    QSWEEP_RETURN_IF_ERROR(CheckLabel(path, line, label, 2));
    t.samples.push_back(Sample(std::to_string(i), "Question: " + j.at("goal").get<std::string>() + "\nAnswer:",
                               {j.at("sol1").get<std::string>(), j.at("sol2").get<std::string>()}, label));
    return absl::OkStatus();
  }));
  return t;
}

absl::StatusOr<McTask> Boolq(const std::string& path, const std::string& name) {
  McTask t{name, {}};
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, int64_t) -> absl::Status {
    const std::string ctx = j.at("passage").get<std::string>() + "\nQuestion: " + j.at("question").get<std::string>() + "?\nAnswer:";
    t.samples.push_back(Sample(std::to_string(t.samples.size()), ctx, {"no", "yes"}, j.at("answer").get<bool>() ? 1 : 0));
    return absl::OkStatus();
  }));
  return t;
}

absl::StatusOr<McTask> Winogrande(const std::string& path, const std::string& name) {
  McTask t{name, {}};
  QSWEEP_RETURN_IF_ERROR(ForEachJsonLine(path, [&](const Json& j, int64_t line) -> absl::Status {
    const std::string s = j.at("sentence").get<std::string>();
    const size_t idx = s.find('_');
    if (idx == std::string::npos) return LineError(path, line, "the sentence has no '_'");
    McSample m;
    m.id = j.contains("qID") ? j.at("qID").get<std::string>() : std::to_string(line);
    const std::string target = " " + Strip(s.substr(idx + 1));
    for (const char* key : {"option1", "option2"}) {
      m.contexts.push_back(s.substr(0, idx) + j.at(key).get<std::string>());
      m.continuations.push_back(target);
    }
    const std::string answer = j.at("answer").get<std::string>();
    if (answer != "1" && answer != "2") return LineError(path, line, absl::StrFormat("answer '%s' is not 1 or 2", answer));
    m.label = answer == "1" ? 0 : 1;
    t.samples.push_back(std::move(m));
    return absl::OkStatus();
  }));
  return t;
}

}  // namespace

std::string HellaswagPreprocess(const std::string& text) {
  std::string s = Strip(text);
  s = absl::StrReplaceAll(s, {{" [title]", ". "}});
  static const std::regex kBrackets(R"(\[.*?\])");
  s = std::regex_replace(s, kBrackets, "");
  return absl::StrReplaceAll(s, {{"  ", " "}});
}

absl::StatusOr<McTask> ImportTask(const std::string& format, const std::string& path, const std::string& name,
                                  const ImportOptions& options) {
  absl::StatusOr<McTask> t = absl::InvalidArgumentError(absl::StrFormat(
      "%s: unknown task format '%s' (known: jsonl, arc, hellaswag, mmlu, piqa, boolq, winogrande)", path, format));
  if (format == "jsonl") t = ReadTaskJsonl(path, name);
  else if (format == "arc") t = Arc(path, name);
  else if (format == "hellaswag") t = Hellaswag(path, name);
  else if (format == "mmlu") t = Mmlu(path, name, options);
  else if (format == "piqa") t = Piqa(path, name, options);
  else if (format == "boolq") t = Boolq(path, name);
  else if (format == "winogrande") t = Winogrande(path, name);
  if (t.ok() && t->samples.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: no samples", path));
  return t;
}

}  // namespace qsweep
