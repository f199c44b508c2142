// The rule for every file qsweep writes. A file is written beside its final
// name (NAME.tmp), made durable (fsync) and renamed into place, so a reader
// sees either the old file or the complete new one; a failure leaves no
// temporary behind. It replaces only a regular file: never a device, FIFO,
// directory or symbolic link (as root, `-o /dev/full` would otherwise
// replace the device node), and never one of the command's own inputs.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

// Creates the folder `path` goes in (and its parents); an error, not an
// exception, where it cannot (read-only, a file in the way).
absl::Status CreateParentFolder(const std::string& path);

class OutputFile {
 public:
  // Refuses `path` unless it is new or a regular file that is none of
  // `inputs` (compared as files: device and inode).
  static absl::StatusOr<OutputFile> Begin(const std::string& path, const std::vector<std::string>& inputs = {});
  OutputFile(OutputFile&& o) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile();  // removes the temporary unless committed

  const std::string& path() const { return path_; }
  const std::string& tmp() const { return tmp_; }  // where to write
  // fsync of the written temporary, rename over `path`, fsync of its folder.
  absl::Status Commit();

 private:
  OutputFile(std::string path, std::string tmp) : path_(std::move(path)), tmp_(std::move(tmp)) {}
  std::string path_, tmp_;
  bool pending_ = true;
};

}  // namespace qsweep
