#include "tokenizer/byte_level_alphabet.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

// Known stand-ins from GPT-2's bytes_to_unicode (checked in Python).
TEST(ByteLevelAlphabet, KnownCharacters) {
  EXPECT_EQ(ByteLevelEncode(" "), "\xC4\xA0");     // U+0120 'Ġ'
  EXPECT_EQ(ByteLevelEncode("\n"), "\xC4\x8A");    // U+010A 'Ċ'
  EXPECT_EQ(ByteLevelEncode(std::string(1, '\0')), "\xC4\x80");  // U+0100
  EXPECT_EQ(ByteLevelEncode("\x7F"), "\xC4\xA1");  // U+0121
  EXPECT_EQ(ByteLevelEncode("\xAD"), "\xC5\x83");  // U+0143 (soft hyphen is not printable)
  EXPECT_EQ(ByteLevelEncode("\x80"), "\xC4\xA2");  // U+0122
  EXPECT_EQ(ByteLevelEncode("A~!"), "A~!");
  // Python: "".join(m[b] for b in "héllo 😀\n".encode()) == "hÃ©lloĠðŁĺĢĊ"
  EXPECT_EQ(ByteLevelEncode("h\xC3\xA9llo \xF0\x9F\x98\x80\n"),
            "h\xC3\x83\xC2\xA9llo\xC4\xA0\xC3\xB0\xC5\x81\xC4\xBA\xC4\xA2\xC4\x8A");
}

TEST(ByteLevelAlphabet, IsABijectionOnBytes) {
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    const std::string ch = ByteLevelEncode(byte);
    EXPECT_TRUE(seen.insert(ch).second) << "byte " << b;
    const auto back = ByteLevelDecode(ch);
    ASSERT_TRUE(back.has_value()) << "byte " << b;
    EXPECT_EQ(*back, byte);
  }
}

TEST(ByteLevelAlphabet, DecodeRejectsCharactersOutsideIt) {
  EXPECT_FALSE(ByteLevelDecode(" ").has_value());            // space stands for nothing
  EXPECT_FALSE(ByteLevelDecode("a\xE4\xB8\xAD").has_value()); // CJK
  EXPECT_FALSE(ByteLevelDecode("\xC5\x84").has_value());      // U+0144, one past the end
  EXPECT_EQ(ByteLevelDecode("\xC4\xA0the").value(), " the");
  EXPECT_EQ(ByteLevelDecode("").value(), "");
}

}  // namespace
}  // namespace qsweep
