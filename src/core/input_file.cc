#include "core/input_file.h"

#include <sys/stat.h>

#include "absl/strings/str_format.h"

namespace qsweep {

absl::Status RequireRegularFile(const std::string& path, std::string_view what) {
  struct stat st;
  // A path that cannot be stat'ed is the open's to report, with the
  // reader's own message.
  if (::stat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (S_ISREG(st.st_mode)) return absl::OkStatus();
  const char* kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                     : S_ISSOCK(st.st_mode) ? "a socket" : "a device";
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s, not a regular file; %s must be a regular file", path, kind, what));
}

}  // namespace qsweep
