#include "tokenizer/utf8_repair.h"

#include <string>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string Times(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Expected outputs are what CPython 3.11 prints for
// bytes.decode("utf-8", "replace").encode("utf-8").
TEST(RepairUtf8, MatchesPythonReplaceDecoding) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"", ""},
      {"abc", "abc"},
      {"\xE2\x82", kFffd},                       // truncated at the end: one subpart
      {"\xE2\x82" "A", kFffd + "A"},              // truncated before ASCII
      {"\xF0\x80", Times(kFffd, 2)},              // overlong 4-byte: lead alone
      {"\xED\xA0\x80", Times(kFffd, 3)},          // surrogate
      {"\xC0\x80", Times(kFffd, 2)},              // C0 never starts a sequence
      {"\xE0\x80\x80", Times(kFffd, 3)},          // overlong 3-byte
      {"\xF4\x90\x80\x80", Times(kFffd, 4)},      // above U+10FFFF
      {"\xFF\xFE", Times(kFffd, 2)},
      {"\xF0\x9F\x98", kFffd},                    // emoji missing its last byte
      {"a\xF0\x9F\x98\x80" "b", "a\xF0\x9F\x98\x80" "b"},
      {"\x80\x80", Times(kFffd, 2)},              // stray continuation bytes
      {"\xE2(\xA1", kFffd + "(" + kFffd},
      {"\xF0\x9F\x98\xC3\xA9", kFffd + "\xC3\xA9"},
      {kFffd, kFffd},                             // a real U+FFFD stays
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RepairUtf8(c.in), c.want) << "input bytes: " << ::testing::PrintToString(c.in);
  }
}

TEST(Utf8CharLength, ReadsLeadByte) {
  const std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
  EXPECT_EQ(Utf8CharLength(s, 0), 1u);
  EXPECT_EQ(Utf8CharLength(s, 1), 2u);
  EXPECT_EQ(Utf8CharLength(s, 3), 3u);
  EXPECT_EQ(Utf8CharLength(s, 6), 4u);
  EXPECT_EQ(Utf8CharLength("\xF0\x9F", 0), 1u);  // would run past the end
}

}  // namespace
}  // namespace qsweep
