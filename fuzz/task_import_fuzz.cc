// Task files: qsweep's JSONL and every importer, the format picked by the
// first byte (the rest is the file).
#include "eval/tasks/import_task.h"
#include "eval/tasks/csv.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<std::string> formats = qsweep::tasks::TaskFormats();
  const std::string& format = formats[data[0] % formats.size()];
  const std::string path = qsweep::fuzz::WriteInput(data + 1, size - 1, "task." + format);
  if (format != "mmlu") (void)qsweep::tasks::ImportTask(format, path);
  (void)qsweep::tasks::ParseCsv(qsweep::fuzz::Text(data + 1, size - 1), "task.csv");
  return 0;
}
