#include "eval/tasks/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qsweep::tasks {
namespace {

using Fields = std::vector<std::string>;

std::vector<CsvRecord> Parse(const std::string& text) {
  auto r = ParseCsv(text, "f.csv");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<CsvRecord>{};
}

TEST(Csv, PlainFieldsAndLineNumbers) {
  const auto r = Parse("a,b,c\nd,e,f\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(r[1].fields, (Fields{"d", "e", "f"}));
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[1].line, 2);
}

TEST(Csv, QuotedCommasDoubledQuotesAndNewlines) {
  const auto r = Parse("\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\nnext,\"\"\"\",\"\"\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"a, b", "say \"hi\"", "two\nlines", "plain"}));
  EXPECT_EQ(r[0].line, 1);
  // The quoted newline moved the next record to line 3.
  EXPECT_EQ(r[1].fields, (Fields{"next", "\"", ""}));
  EXPECT_EQ(r[1].line, 3);
}

// A quoted field closed right before \r\n, and a quoted line break
// followed by a trailing empty field.
TEST(Csv, QuotedFieldBeforeCrlfAndMultiLineField) {
  const auto r = Parse("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x,\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b, c", "say \"hi\""}));
  EXPECT_EQ(r[1].fields, (Fields{"multi\nline", "x", ""}));
  EXPECT_EQ(r[1].line, 2);
}

TEST(Csv, EmptyFieldsAndTrailingComma) {
  const auto r = Parse(",a,,\n,\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"", "a", "", ""}));
  EXPECT_EQ(r[1].fields, (Fields{"", ""}));
}

TEST(Csv, LineEndingsAndNoFinalNewline) {
  const auto r = Parse("a,b\r\nc,\"d\r\ne\"\rf,g");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b"}));
  EXPECT_EQ(r[1].fields, (Fields{"c", "d\r\ne"}));  // inside quotes, kept verbatim
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[2].fields, (Fields{"f", "g"}));
  EXPECT_EQ(r[2].line, 4);
}

TEST(Csv, BlankLinesSkippedButCounted) {
  const auto r = Parse("\n\na\n\r\n\nb\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, Fields{"a"});
  EXPECT_EQ(r[0].line, 3);
  EXPECT_EQ(r[1].fields, Fields{"b"});
  EXPECT_EQ(r[1].line, 6);
  EXPECT_TRUE(Parse("").empty());
}

TEST(Csv, QuoteInsideUnquotedFieldIsLiteral) {
  const auto r = Parse("5\" pipe,x\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].fields, (Fields{"5\" pipe", "x"}));
}

TEST(Csv, UnterminatedQuoteNamesTheLineItOpened) {
  auto r = ParseCsv("a,b\nc,\"open\nstill open\n", "f.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f.csv:2: unterminated quoted field");
}

TEST(Csv, TextAfterClosingQuote) {
  auto r = ParseCsv("a\n\"x\"y,z\n", "f.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f.csv:2: text after a closing quote");
}

TEST(Csv, MissingFile) {
  EXPECT_EQ(ReadCsvFile("/nonexistent/a.csv").status().message(), "/nonexistent/a.csv: cannot open the file");
}

}  // namespace
}  // namespace qsweep::tasks
