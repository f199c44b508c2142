#include "tokenizer/unicode_regex.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

// The patterns as Llama 3's and GPT-2's tokenizer.json write them.
constexpr char kLlama3[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kGpt2[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Case {
  std::string text;
  std::vector<std::string> pieces;
};

std::vector<std::string> Split(const UnicodeRegex& re, const std::string& text) {
  std::vector<std::string_view> views;
  SplitIsolated(re, text, &views);
  return {views.begin(), views.end()};
}

// Expected pieces were produced by Python's `regex` module (an independent
// engine) with finditer over the same patterns, gaps kept.
TEST(SplitIsolated, Llama3PatternMatchesIndependentEngine) {
  auto re = UnicodeRegex::Compile(kLlama3);
  ASSERT_TRUE(re.ok()) << re.status();
  const Case cases[] = {
      {"Hello world", {"Hello", " world"}},
      {"I'm here, they'll GO'VE it's", {"I", "'m", " here", ",", " they", "'ll", " GO", "'VE", " it", "'s"}},
      {"1234567 and 12", {"123", "456", "7", " and", " ", "12"}},
      {"  lead  spaces\n\n  tabs\t\tend  ",
       {" ", " lead", " ", " spaces", "\n\n", " ", " tabs", "\t", "\tend", "  "}},
      {"emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80! \xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6\xE3\x80\x82",
       {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80!", " \xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6",
        "\xE3\x80\x82"}},
      {"x\r\n\r\ny", {"x", "\r\n\r\n", "y"}},
      {"$100.50?!", {"$", "100", ".", "50", "?!"}},
      {"", {}},
  };
  for (const Case& c : cases) EXPECT_EQ(Split(*re, c.text), c.pieces) << c.text;
}

TEST(SplitIsolated, Gpt2PatternMatchesIndependentEngine) {
  auto re = UnicodeRegex::Compile(kGpt2);
  ASSERT_TRUE(re.ok()) << re.status();
  const Case cases[] = {
      {"Hello world", {"Hello", " world"}},
      {"I'm here, they'll GO'VE it's", {"I", "'m", " here", ",", " they", "'ll", " GO", "'", "VE", " it", "'s"}},
      {"1234567 and 12", {"1234567", " and", " 12"}},
      {"  lead  spaces\n\n  tabs\t\tend  ",
       {" ", " lead", " ", " spaces", "\n\n ", " tabs", "\t", "\t", "end", "  "}},
      {"x\r\n\r\ny", {"x", "\r\n\r", "\n", "y"}},
      {"$100.50?!", {"$", "100", ".", "50", "?!"}},
  };
  for (const Case& c : cases) EXPECT_EQ(Split(*re, c.text), c.pieces) << c.text;
}

TEST(SplitIsolated, GapsAreKeptAndEmptyMatchesMakeNoPiece) {
  auto digits = UnicodeRegex::Compile(R"(\d+)");
  ASSERT_TRUE(digits.ok());
  EXPECT_EQ(Split(*digits, "ab12cd345"), (std::vector<std::string>{"ab", "12", "cd", "345"}));
  auto maybe = UnicodeRegex::Compile(R"(x*)");
  ASSERT_TRUE(maybe.ok());
  EXPECT_EQ(Split(*maybe, "a\xC3\xA9xxb"), (std::vector<std::string>{"a\xC3\xA9", "xx", "b"}));
}

TEST(SplitIsolated, LongWhitespaceRunIsOnePiece) {
  auto re = UnicodeRegex::Compile(kLlama3);
  ASSERT_TRUE(re.ok());
  const std::string spaces(200000, ' ');
  EXPECT_EQ(Split(*re, spaces + "a"), (std::vector<std::string>{std::string(199999, ' '), " a"}));
}

TEST(UnicodeRegex, CompileErrorSaysWhere) {
  auto re = UnicodeRegex::Compile("(ab");
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.status().message().find("offset 3"), std::string::npos) << re.status();
}

TEST(UnicodeRegex, MatchesAtIsAnchored) {
  auto re = UnicodeRegex::Compile(R"(\p{L})");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->MatchesAt("1\xC3\xA9", 1));
  EXPECT_FALSE(re->MatchesAt("1\xC3\xA9", 0));
}

}  // namespace
}  // namespace qsweep
