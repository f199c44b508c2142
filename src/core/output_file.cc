#include "core/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_format.h"

namespace qsweep {
namespace {

// Refuses what exists at `p` unless it is a regular file (lstat: a link is
// not followed).
absl::Status RegularOrAbsent(const std::string& p, const std::string& what, struct stat* st, bool* exists) {
  *exists = ::lstat(p.c_str(), st) == 0;
  if (!*exists) return absl::OkStatus();
  if (S_ISREG(st->st_mode)) return absl::OkStatus();
  const char* kind = S_ISDIR(st->st_mode)    ? "a directory"
                     : S_ISLNK(st->st_mode)  ? "a symbolic link"
                     : S_ISFIFO(st->st_mode) ? "a FIFO"
                     : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? "a device"
                                                                    : "not a regular file";
  return absl::FailedPreconditionError(
      absl::StrFormat("%s: %s is %s; qsweep writes only regular files (choose another output)", p, what, kind));
}

absl::Status Sync(const std::string& p, bool directory) {
  const int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return absl::InternalError(absl::StrFormat("%s: cannot open to sync: %s", p, std::strerror(errno)));
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrFormat("%s: fsync failed: %s (disk full?)", p, std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateParentFolder(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec)
    return absl::PermissionDeniedError(
        absl::StrFormat("%s: cannot create the folder %s: %s", path, parent.string(), ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<OutputFile> OutputFile::Begin(const std::string& path, const std::vector<std::string>& inputs) {
  struct stat out{}, tmp{};
  bool exists = false, tmp_exists = false;
  if (absl::Status s = RegularOrAbsent(path, "the output", &out, &exists); !s.ok()) return s;
  if (exists)
    for (const std::string& in : inputs) {
      struct stat st{};
      if (::stat(in.c_str(), &st) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino)
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: the output is the input %s; choose another output", path, in));
    }
  const std::string tmp_path = path + ".tmp";
  if (absl::Status s = RegularOrAbsent(tmp_path, "the output's temporary", &tmp, &tmp_exists); !s.ok()) return s;
  return OutputFile(path, tmp_path);
}

OutputFile::OutputFile(OutputFile&& o) noexcept : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), pending_(o.pending_) {
  o.pending_ = false;
}

OutputFile::~OutputFile() {
  if (pending_) std::remove(tmp_.c_str());
}

absl::Status OutputFile::Commit() {
  if (absl::Status s = Sync(tmp_, false); !s.ok()) return s;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    return absl::InternalError(
        absl::StrFormat("%s: cannot rename %s into place: %s", path_, tmp_, std::strerror(errno)));
  pending_ = false;
  std::string folder = std::filesystem::path(path_).parent_path().string();
  return Sync(folder.empty() ? "." : folder, true);
}

}  // namespace qsweep
