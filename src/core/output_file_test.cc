#include "core/output_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("qsweep_output_file_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(OutputFile, WritesBesideThenRenamesIntoPlace) {
  const fs::path d = Scratch("commit");
  const std::string out = (d / "a.txt").string();
  std::ofstream(out) << "old";
  {
    auto f = OutputFile::Begin(out);
    ASSERT_TRUE(f.ok()) << f.status();
    std::ofstream(f->tmp()) << "new";
    EXPECT_EQ(Read(out), "old");  // readers see the old file until the commit
    ASSERT_TRUE(f->Commit().ok());
  }
  EXPECT_EQ(Read(out), "new");
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(OutputFile, AFailureLeavesNoTemporary) {
  const fs::path d = Scratch("abandon");
  const std::string out = (d / "a.h5").string();
  {
    auto f = OutputFile::Begin(out);
    ASSERT_TRUE(f.ok());
    std::ofstream(f->tmp()) << "half";
  }  // not committed: an error on the way
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(OutputFile, RefusesWhatIsNotARegularFileOrIsAnInput) {
  const fs::path d = Scratch("refuse");
  const fs::path fifo = d / "fifo", dir = d / "dir", link = d / "link", input = d / "in.h5";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_directories(dir);
  std::ofstream(input) << "run";
  fs::create_symlink(input, link);
  auto expect = [](const std::string& path, const std::vector<std::string>& inputs, const std::string& needle) {
    auto f = OutputFile::Begin(path, inputs);
    ASSERT_FALSE(f.ok()) << path;
    EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status();
  };
  expect("/dev/full", {}, "/dev/full: the output is a device");
  expect(fifo.string(), {}, "is a FIFO");
  expect(dir.string(), {}, "is a directory");
  expect(link.string(), {}, "is a symbolic link");
  expect(input.string(), {"other.h5", input.string()}, "the output is the input");
  // A FIFO planted where the temporary goes is refused too.
  ASSERT_EQ(::mkfifo((d / "b.h5.tmp").c_str(), 0600), 0);
  expect((d / "b.h5").string(), {}, "the output's temporary is a FIFO");
  EXPECT_EQ(Read(input), "run");
  EXPECT_TRUE(fs::is_fifo(fifo));
}

}  // namespace
}  // namespace qsweep
