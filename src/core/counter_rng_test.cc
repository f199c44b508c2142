#include "core/counter_rng.h"

#include <cmath>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(Philox4x32, Random123KnownAnswers) {
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(Philox4x32({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(Philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                       {0xffffffffu, 0xffffffffu}),
            (A4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(Philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                       {0xa4093822u, 0x299f31d0u}),
            (A4{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(CounterNormal, MomentsAndBounds) {
  constexpr int kN = 200000;
  double sum = 0, sq = 0, mx = 0;
  for (int i = 0; i < kN; ++i) {
    const double x = CounterNormal(7, StreamId("w"), i);
    sum += x;
    sq += x * x;
    mx = std::max(mx, std::fabs(x));
  }
  const double mean = sum / kN, var = sq / kN - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.02);
  EXPECT_LT(mx, 3.47);
  EXPECT_GT(mx, 3.0);
}

TEST(CounterNormal, PureFunctionOfSeedStreamIndex) {
  EXPECT_EQ(CounterNormal(1, 2, 3), CounterNormal(1, 2, 3));
  EXPECT_NE(CounterNormal(1, 2, 3), CounterNormal(2, 2, 3));
  EXPECT_NE(CounterNormal(1, 2, 3), CounterNormal(1, 3, 3));
  EXPECT_NE(CounterNormal(1, 2, 3), CounterNormal(1, 2, 4));
  EXPECT_NE(StreamId("model.layers.0.mlp.up_proj.weight"),
            StreamId("model.layers.1.mlp.up_proj.weight"));
}

TEST(CounterUniform, InUnitInterval) {
  for (int i = 0; i < 10000; ++i) {
    const float u = CounterUniform(3, 4, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
}

}  // namespace
}  // namespace qsweep
