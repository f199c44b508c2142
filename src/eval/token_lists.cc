#include "eval/token_lists.h"

#include <charconv>
#include <fstream>

#include "absl/strings/str_format.h"
#include "core/input_file.h"
#include "core/status_macros.h"

namespace qsweep {

absl::StatusOr<std::vector<std::vector<int32_t>>> ReadTokenLists(const std::string& path,
                                                                 int64_t vocab_size) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the token file"));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the token file", path));
  std::vector<std::vector<int32_t>> out;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    std::vector<int32_t> seq;
    const char* p = line.data();
    const char* end = p + line.size();
    while (p < end) {
      if (*p == ' ' || *p == '\t' || *p == '\r') {
        ++p;
        continue;
      }
      int64_t id = 0;
      auto [next, ec] = std::from_chars(p, end, id);
      if (ec != std::errc() || (next < end && *next != ' ' && *next != '\t' && *next != '\r'))
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: expected token ids separated by spaces, found '%s'", path, lineno,
            std::string(p, std::min<size_t>(end - p, 20))));
      if (id < 0 || id >= vocab_size)
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: token id %d is outside the model's vocabulary [0, %d)", path, lineno, id,
            vocab_size));
      seq.push_back(static_cast<int32_t>(id));
      p = next;
    }
    if (!seq.empty()) out.push_back(std::move(seq));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: no token sequences", path));
  return out;
}

}  // namespace qsweep
