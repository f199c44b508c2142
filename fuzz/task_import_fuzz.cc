// Task files: qsweep's JSONL, every importer and the generative formats, the
// format picked by the first byte (the rest is the file); a generative
// task's samples are then scored against a generation made of the file's
// last bytes (hostile patterns: the match limits must hold).
#include "eval/tasks/csv.h"
#include "eval/tasks/gen_import.h"
#include "eval/tasks/import_task.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<std::string> formats = qsweep::tasks::TaskFormats();
  const std::vector<std::string>& gen = qsweep::tasks::GenTaskFormats();
  const size_t pick = data[0] % (formats.size() + gen.size());
  const std::string& format = pick < formats.size() ? formats[pick] : gen[pick - formats.size()];
  const std::string path = qsweep::fuzz::WriteInput(data + 1, size - 1, "task." + format);
  if (pick >= formats.size()) {
    auto task = qsweep::tasks::ImportGenTask(format, path, "fuzz");
    if (task.ok()) {
      const std::string generation = qsweep::fuzz::Text(data + 1 + (size - 1) / 2, (size - 1) - (size - 1) / 2);
      for (const auto& s : task->samples) (void)qsweep::tasks::ScoreAnswer(s, generation);
    }
  } else if (format != "mmlu") {
    (void)qsweep::tasks::ImportTask(format, path);
  }
  (void)qsweep::tasks::ParseCsv(qsweep::fuzz::Text(data + 1, size - 1), "task.csv");
  return 0;
}
