#include "eval/tasks/mmlu.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/status_macros.h"
#include "eval/tasks/csv.h"
#include "eval/tasks/python_text.h"

namespace qsweep::tasks {
namespace {

namespace fs = std::filesystem;

struct MmluQuestion {
  std::string text;  // "{question}\nA. ...\nD. {D}\nAnswer:"
  char answer;       // 'A'..'D'
};

absl::StatusOr<std::vector<MmluQuestion>> ReadQuestions(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(std::vector<CsvRecord> records, ReadCsvFile(path));
  if (records.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: empty file (no questions)", path));
  std::vector<MmluQuestion> out;
  for (const CsvRecord& r : records) {
    if (r.fields.size() != 6)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s:%d: %d fields, expected 6 (question, A, B, C, D, answer letter)", path, r.line, r.fields.size()));
    const std::string& a = r.fields[5];
    if (a.size() != 1 || a[0] < 'A' || a[0] > 'D')
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d: answer \"%s\" is not A, B, C or D", path, r.line, a));
    out.push_back({PyStrip(r.fields[0]) + "\nA. " + r.fields[1] + "\nB. " + r.fields[2] + "\nC. " + r.fields[3] +
                       "\nD. " + r.fields[4] + "\nAnswer:",
                   a[0]});
  }
  return out;
}

}  // namespace

std::string MmluSubject(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  for (const std::string suffix : {"_test", "_val", "_dev"})
    if (stem.size() > suffix.size() && stem.ends_with(suffix)) return stem.substr(0, stem.size() - suffix.size());
  return stem;
}

absl::StatusOr<McTask> ImportMmlu(const std::string& path, const std::string& name, const MmluOptions& options) {
  if (options.shots < 0)
    return absl::InvalidArgumentError(absl::StrFormat("%s: few-shot count %d is negative", path, options.shots));
  const std::string subject = MmluSubject(path);
  QSWEEP_ASSIGN_OR_RETURN(std::vector<MmluQuestion> questions, ReadQuestions(path));
  std::string prefix = "The following are multiple choice questions (with answers) about " +
                       absl::StrReplaceAll(subject, {{"_", " "}}) + ".\n\n";
  if (options.shots > 0) {
    const std::string dev = !options.dev_path.empty()
                                ? options.dev_path
                                : (fs::path(path).parent_path() / ".." / "dev" / (subject + "_dev.csv")).lexically_normal().string();
    std::error_code ec;
    if (fs::equivalent(dev, path, ec))
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: the few-shot examples would come from this same file, showing questions with their answers; "
          "import the dev split with 0 shots",
          path));
    QSWEEP_ASSIGN_OR_RETURN(std::vector<MmluQuestion> shots, ReadQuestions(dev));
    if (static_cast<int>(shots.size()) < options.shots)
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %d questions, but %d few-shot examples were asked for", dev, shots.size(), options.shots));
    for (int i = 0; i < options.shots; ++i) prefix += shots[i].text + " " + shots[i].answer + "\n\n";
  }
  McTask task{name, {}};
  const std::string stem = fs::path(path).stem().string();
  for (size_t i = 0; i < questions.size(); ++i)
    task.samples.push_back(SharedContextSample(absl::StrFormat("%s/%d", stem, i), prefix + questions[i].text,
                                               {"A", "B", "C", "D"}, questions[i].answer - 'A'));
  return task;
}

}  // namespace qsweep::tasks
