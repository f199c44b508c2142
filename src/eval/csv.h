// RFC 4180 CSV: fields separated by commas, optionally quoted; inside quotes,
// "" is a quote and commas and newlines are literal.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

// Rows of fields; errors (an unterminated quote) name the file and line.
absl::StatusOr<std::vector<std::vector<std::string>>> ParseCsv(const std::string& text, const std::string& file);

}  // namespace qsweep
