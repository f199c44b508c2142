// RFC 4180 CSV: records of comma-separated fields; a field may be quoted, and
// inside quotes "" is one quote while commas and line breaks are literal.
// Line ends: \n, \r\n or \r. Blank lines are skipped (as pandas does).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep::tasks {

struct CsvRecord {
  int64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// `file` names the source in errors: "<file>:<line>: unterminated quoted
// field" (the line where the quote opened) and "<file>:<line>: text after a
// closing quote" (RFC 4180 allows only a comma or a line end there).
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(const std::string& text, const std::string& file);

// Reads and parses a file; a missing file is an error naming it.
absl::StatusOr<std::vector<CsvRecord>> ReadCsvFile(const std::string& path);

}  // namespace qsweep::tasks
