#include "quant/mma_tiled_weights.h"

#include <random>

#include <gtest/gtest.h>

#include "quant/bit_packing.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

// Positions worked out by hand from the layout's comment.
TEST(MmaTiledWeights, CodesLieWhereTheLayoutSays) {
  using P = MmaTiledWeights::Place;
  auto expect = [](const P& got, int64_t word, int bit, int width, int64_t next_word, int next_bit) {
    EXPECT_EQ(got.word, word);
    EXPECT_EQ(got.bit, bit);
    EXPECT_EQ(got.width, width);
    if (width < 8) {
      EXPECT_EQ(got.next_word, next_word);
      EXPECT_EQ(got.next_bit, next_bit);
    }
  };
  expect(MmaTiledWeights::Locate(4, 1, 0, 0), 0, 0, 4, -1, 0);
  // Row 9: gid 1, h 1. Input 70: 64-block 1, tig 0, tile 5, j 2: e 6, code
  // 46 of lane 4 (even: low halves), pair 23 at stream bit 92: lane word 5
  // (q 1, w 1), bit 12.
  expect(MmaTiledWeights::Locate(4, 1, 9, 70), ((0 * 4 + 1) * 32 + 4) * 4 + 1, 12, 4, -1, 0);
  // 3 bits, row 0, input 37 (tig 2, tile 1, j 1: e 1): code 9 of lane 2,
  // odd (high halves), pair 4 at stream bit 12: word 2·4, bit 28.
  expect(MmaTiledWeights::Locate(3, 1, 0, 37), 2 * 4, 28, 3, -1, 0);
  // Code 10 (row 8, input 4: tile 1, e 2) of lane 0: pair 5 at stream bit
  // 15, one bit in lane word 0, two at the bottom of lane word 1.
  expect(MmaTiledWeights::Locate(3, 1, 8, 4), 0, 15, 1, 1, 0);
  // Code 42 (row 8, input 68: tile 5, e 2): pair 21 at stream bit 63
  // straddles lane words 3 and 4, a 16-byte load apart.
  expect(MmaTiledWeights::Locate(3, 1, 8, 68), 3, 15, 1, 32 * 4, 0);
}

TEST(MmaTiledWeights, EveryFormatRoundTripsWithZeroPadding) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  for (const char* name : {"w4a16-g128", "w3a16-g64-asym", "w8a16", "w2a16-g16", "w1a16-g32", "t2a16-g64", "nf4-g64",
                           "fp4-g32", "fp8a16", "w5a16-g128", "w7a16-asym"}) {
    const WeightFormat f = ResolveScheme(name)->format;
    ASSERT_TRUE(MmaTileable(f)) << name;
    for (auto [out, in] : {std::pair<int64_t, int64_t>{5, 40}, {33, 300}, {16, 512}}) {
      std::vector<float> w(out * in);
      for (float& v : w) v = d(rng);
      const QuantizedWeights q = QuantizeWeights(f, w, out, in);
      const MmaTiledWeights t = TileForMma(q);
      EXPECT_EQ(t.out_padded % 16, 0);
      EXPECT_EQ(t.in_padded % 256, 0);
      for (int64_t n = 0; n < t.out_padded; ++n)
        for (int64_t k = 0; k < t.in_padded; ++k) {
          const int want = n < out && k < in ? UnpackCode(q.codes.data() + n * PackedWordsPerRow(in, f.bits), k, f.bits) : 0;
          ASSERT_EQ(TiledCode(t, n, k), want) << name << " " << out << "x" << in << " at " << n << "," << k;
        }
      for (int64_t g = 0; g < t.groups_padded; ++g)
        for (int64_t n = 0; n < t.out_padded; ++n) {
          const bool real = n < out && g < q.groups;
          ASSERT_EQ(t.scales[g * t.out_padded + n], real ? q.scales[n * q.groups + g] : 0) << name;
          if (f.asymmetric) {
            ASSERT_EQ(t.zeros[g * t.out_padded + n], real ? q.zeros[n * q.groups + g] : 0) << name;
          }
        }
      EXPECT_GE(t.groups_padded * t.group, t.in_padded);
    }
  }
}

TEST(MmaTiledWeights, ActivationFormatsAndOddGroupsAreNotTiled) {
  EXPECT_FALSE(MmaTileable(ResolveScheme("w8a8")->format));
  EXPECT_FALSE(MmaTileable(ResolveScheme("fp8")->format));
  EXPECT_FALSE(MmaTileable(WeightFormat::Dense(16)));
}

}  // namespace
}  // namespace qsweep
