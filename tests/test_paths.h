// Where tests find their data: the repository's small fixtures (tests/data)
// and the shared, larger real files ($QSWEEP_DATA, default ../shared/data).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace qsweep::testing {

// $QSWEEP_SOURCE_DIR overrides the build's source folder: binaries built here
// run on the GPU machine from another checkout path.
inline std::filesystem::path SourceDir() {
  const char* env = std::getenv("QSWEEP_SOURCE_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(QSWEEP_SOURCE_DIR);
}

inline std::filesystem::path RepoTestData(const std::string& rel = "") {
  return SourceDir() / "tests" / "data" / rel;
}

inline std::filesystem::path SharedData(const std::string& rel = "") {
  const char* env = std::getenv("QSWEEP_DATA");
  std::filesystem::path base =
      env && *env ? std::filesystem::path(env)
                  : SourceDir() / ".." / "shared" / "data";
  return base / rel;
}

// A fresh, empty scratch directory under the build tree for one test.
inline std::filesystem::path ScratchDir(const std::string& name) {
  auto dir = std::filesystem::path(QSWEEP_BINARY_DIR) / "test_scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace qsweep::testing

// Real shared data is required: CI has ../shared beside the checkout, so a
// missing file is a failure, not a skip.
#define QSWEEP_REQUIRE_FILE(path) \
  ASSERT_TRUE(std::filesystem::exists(path)) << "missing test data: " << (path)
