#include "eval/token_lists.h"

#include <fstream>

#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  const auto path = testing::ScratchDir("token_lists") / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(ReadTokenLists, ParsesLinesAndSkipsBlankOnes) {
  auto got = ReadTokenLists(Write("ok.txt", "1 2 3\n\n  7\t8 \r\n"), 10);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (std::vector<std::vector<int32_t>>{{1, 2, 3}, {7, 8}}));
}

TEST(ReadTokenLists, BadInputNamesFileAndLine) {
  const std::string bad = Write("bad.txt", "1 2\n3 x4\n");
  auto s = ReadTokenLists(bad, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(bad + ":2:"), std::string::npos) << s.status();
  auto range = ReadTokenLists(Write("range.txt", "1 10\n"), 10);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find(":1: token id 10 is outside"), std::string::npos);
  EXPECT_FALSE(ReadTokenLists(Write("empty.txt", "\n\n"), 10).ok());
  EXPECT_FALSE(ReadTokenLists("/nonexistent/t.txt", 10).ok());
}

}  // namespace
}  // namespace qsweep
