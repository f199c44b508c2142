#include "report/readable.h"

#include <cmath>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(Readable, BytesHaveThreeSignificantDigitsAndAUnit) {
  EXPECT_EQ(ReadableBytes(1771780), "1.77 MB");
  EXPECT_EQ(ReadableBytes(39.5e9), "39.5 GB");
  EXPECT_EQ(ReadableBytes(812345), "812 kB");
  EXPECT_EQ(ReadableBytes(999700), "1.00 MB");  // the rounding carries into the next unit
  EXPECT_EQ(ReadableBytes(999.4), "999 B");
  EXPECT_EQ(ReadableBytes(0), "0 B");
  EXPECT_EQ(ReadableBytes(NAN), "–");
  EXPECT_EQ(ReadableBytes(-1), "–");
}

TEST(Readable, SharesArePercentages) {
  EXPECT_EQ(ReadablePercent(0.1234), "12.3%");
  EXPECT_EQ(ReadablePercent(1.0), "100.0%");
  EXPECT_EQ(ReadableDelta(0.0071), "+0.7%");
  EXPECT_EQ(ReadableDelta(-0.02), "\u22122.0%");
  EXPECT_EQ(ReadableDelta(-0.0001), "±0.0%");
  EXPECT_EQ(ReadableInterval(-0.012, 0.004), "[\u22121.2%, +0.4%]");
  EXPECT_EQ(ReadableInterval(NAN, 0.004), "–");
}

TEST(Readable, PValuesHaveTwoSignificantDigitsOrABound) {
  EXPECT_EQ(ReadablePValue(1.19667e-42), "< 1e-6");
  EXPECT_EQ(ReadablePValue(0.0342), "0.034");
  EXPECT_EQ(ReadablePValue(0.5), "0.50");
  EXPECT_EQ(ReadablePValue(0.0995), "0.10");
  EXPECT_EQ(ReadablePValue(2.345e-5), "0.000023");
  EXPECT_EQ(ReadablePValue(1.0), "1.0");
  EXPECT_EQ(ReadablePValue(NAN), "–");
}

TEST(Readable, KlIsScientificWithTwoDigits) {
  EXPECT_EQ(ReadableKl(3.14211e-06), "3.1e-06");
  EXPECT_EQ(ReadableKl(0.25), "2.5e-01");
  EXPECT_EQ(ReadableKl(0), "0");
  EXPECT_EQ(ReadableFixed(3.4567, 2), "3.46");
  EXPECT_EQ(ReadableFixed(INFINITY, 2), "–");
}

}  // namespace
}  // namespace qsweep
