#include "eval/tasks/python_text.h"

#include <gtest/gtest.h>

namespace qsweep::tasks {
namespace {

// Expected values are what CPython 3 returns for the same strings.
TEST(PythonText, StripAsciiAndUnicodeSpaces) {
  EXPECT_EQ(PyStrip("  a b \t\n"), "a b");
  EXPECT_EQ(PyStrip("\x0b\x0c\x1c\x1f x \r"), "x");
  EXPECT_EQ(PyStrip("\xc2\xa0nbsp\xe3\x80\x80"), "nbsp");          // U+00A0 ... U+3000
  EXPECT_EQ(PyStrip("\xe2\x80\x89thin\xe2\x80\xa8"), "thin");       // U+2009, U+2028
  EXPECT_EQ(PyStrip("\xe2\x80\x8bzw\xe2\x80\x8b"), "\xe2\x80\x8bzw\xe2\x80\x8b");  // U+200B is not a space
  EXPECT_EQ(PyStrip("\xc3\xa9"), "\xc3\xa9");
  EXPECT_EQ(PyStrip("   "), "");
  EXPECT_EQ(PyStrip(""), "");
}

TEST(PythonText, Capitalize) {
  EXPECT_EQ(PyCapitalize("SCRUB the GRATES"), "Scrub the grates");
  EXPECT_EQ(PyCapitalize("he"), "He");
  EXPECT_EQ(PyCapitalize("1st PLACE"), "1st place");
  EXPECT_EQ(PyCapitalize(""), "");
}

}  // namespace
}  // namespace qsweep::tasks
