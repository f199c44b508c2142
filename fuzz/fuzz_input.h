// What every fuzz target shares: the inputs that readers take as files are
// written to a scratch folder of this process (readers of paths are the
// boundary users reach). Nothing here may abort on a bad input: an error
// Status is the expected outcome, a crash, hang or leak is a finding.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace qsweep::fuzz {

inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("qsweep_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

// `data` as the file `name` in the scratch folder; returns its path.
inline std::string WriteInput(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                  static_cast<std::streamsize>(size));
  return path;
}

inline std::string Text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

}  // namespace qsweep::fuzz
