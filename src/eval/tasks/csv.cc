#include "eval/tasks/csv.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "core/input_file.h"
#include "core/status_macros.h"

namespace qsweep::tasks {

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(const std::string& text, const std::string& file) {
  std::vector<CsvRecord> records;
  const size_t n = text.size();
  size_t i = 0;
  int64_t line = 1;
  auto at_line_end = [&] { return i < n && (text[i] == '\n' || text[i] == '\r'); };
  auto skip_line_end = [&] {  // at \n, \r\n or \r
    if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
    ++i;
    ++line;
  };
  while (i < n) {
    if (at_line_end()) {  // a blank line
      skip_line_end();
      continue;
    }
    CsvRecord record{line, {}};
    for (;;) {  // one field; after a comma there is always one more, maybe empty
      std::string field;
      if (i < n && text[i] == '"') {
        const int64_t opened = line;
        for (++i;; ++i) {
          if (i >= n) return absl::InvalidArgumentError(absl::StrFormat("%s:%d: unterminated quoted field", file, opened));
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              ++i;
              continue;
            }
            ++i;
            break;
          }
          // \r\n inside quotes is one line break; a lone \r counts as one too.
          if (text[i] == '\n' || (text[i] == '\r' && !(i + 1 < n && text[i + 1] == '\n'))) ++line;
          field += text[i];
        }
        if (i < n && text[i] != ',' && !at_line_end())
          return absl::InvalidArgumentError(absl::StrFormat("%s:%d: text after a closing quote", file, line));
      } else {
        while (i < n && text[i] != ',' && !at_line_end()) field += text[i++];
      }
      record.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    records.push_back(std::move(record));
    if (i < n) skip_line_end();
  }
  return records;
}

absl::StatusOr<std::vector<CsvRecord>> ReadCsvFile(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "a task file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseCsv(ss.str(), path);
}

}  // namespace qsweep::tasks
