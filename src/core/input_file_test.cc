#include "core/input_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(InputFile, OnlyRegularFilesAreInputs) {
  const auto dir = std::filesystem::temp_directory_path() / "qsweep_input_file_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "f.txt").string(), fifo = (dir / "pipe").string(), link = (dir / "l").string();
  std::ofstream(file) << "x";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_symlink(file, link);
  EXPECT_TRUE(RequireRegularFile(file, "the config").ok());
  EXPECT_TRUE(RequireRegularFile(link, "the config").ok());
  const absl::Status f = RequireRegularFile(fifo, "the config");
  EXPECT_EQ(f.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.message().find(fifo + ": a FIFO"), std::string::npos) << f;
  EXPECT_NE(f.message().find("the config"), std::string::npos) << f;
  EXPECT_NE(RequireRegularFile(dir.string(), "x").message().find("a directory"), std::string::npos);
  EXPECT_NE(RequireRegularFile("/dev/null", "x").message().find("a device"), std::string::npos);
  EXPECT_TRUE(RequireRegularFile((dir / "missing").string(), "x").ok());  // the reader's open reports it
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qsweep
