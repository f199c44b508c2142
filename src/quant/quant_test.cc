#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "quant/bit_packing.h"
#include "quant/codebooks.h"
#include "quant/fp8.h"
#include "quant/gemm.h"
#include "quant/packed_linear.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

std::string SchemeOf(int bits, int64_t g, bool asym) {
  return "w" + std::to_string(bits) + "a16-g" + std::to_string(g) + (asym ? "-asym" : "");
}

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

WeightFormat Format(const std::string& scheme) {
  auto s = ParseScheme(scheme);
  EXPECT_TRUE(s.ok()) << s.status();
  return s->format;
}

TEST(BitPacking, BijectiveForEveryWidth) {
  std::mt19937 rng(1);
  for (int bits = 1; bits <= 8; ++bits) {
    const int64_t rows = 3, cols = 1 + rng() % 100;
    std::vector<uint8_t> codes(rows * cols);
    for (auto& c : codes) c = static_cast<uint8_t>(rng() % (1u << bits));
    const auto words = PackCodes(codes, rows, cols, bits);
    EXPECT_EQ(static_cast<int64_t>(words.size()), rows * PackedWordsPerRow(cols, bits));
    EXPECT_EQ(UnpackCodes(words, rows, cols, bits), codes) << bits;
  }
  // Known layout: 3-bit codes 1..11, code 10 straddles words 0 and 1 (bits 30-32).
  std::vector<uint8_t> c(11);
  for (int i = 0; i < 11; ++i) c[i] = static_cast<uint8_t>((i + 1) & 7);
  const auto w = PackCodes(c, 1, 11, 3);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0] & 7u, 1u);
  EXPECT_EQ((w[0] >> 3) & 7u, 2u);
  EXPECT_EQ(w[0] >> 30, 3u & 3u);  // low 2 bits of code 11 & 7 = 3
  EXPECT_EQ(w[1] & 1u, 0u);        // its high bit
}

TEST(Fp8, AllCodesRoundTripAndSaturate) {
  for (int c = 0; c < 256; ++c) {
    const float v = Fp8E4M3ToFloat(static_cast<uint8_t>(c));
    if (std::isnan(v)) {
      EXPECT_TRUE((c & 0x7f) == 0x7f);
      continue;
    }
    if (c == 0x80) continue;  // -0 encodes as -0
    EXPECT_EQ(FloatToFp8E4M3(v), c) << c;
  }
  EXPECT_EQ(Fp8E4M3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(FloatToFp8E4M3(1e6f), 0x7e);
  EXPECT_EQ(FloatToFp8E4M3(-500.0f), 0xfe);
  // Ties to even: 1.0625 lies between 1.0 (code 0x38) and 1.125 (0x39) → 0x38;
  // 1.1875 between 1.125 (0x39) and 1.25 (0x3a) → 0x3a.
  EXPECT_EQ(FloatToFp8E4M3(1.0625f), 0x38);
  EXPECT_EQ(FloatToFp8E4M3(1.1875f), 0x3a);
  EXPECT_EQ(Fp8E4M3ToFloat(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
}

TEST(Codebooks, EqualThePublishedTables) {
  // bitsandbytes get_4bit_type("nf4") and ("fp4")/12.
  EXPECT_FLOAT_EQ(kNf4Table[0], -1.0f);
  EXPECT_FLOAT_EQ(kNf4Table[1], -0.6961928009986877f);
  EXPECT_FLOAT_EQ(kNf4Table[7], 0.0f);
  EXPECT_FLOAT_EQ(kNf4Table[8], 0.07958029955625534f);
  EXPECT_FLOAT_EQ(kNf4Table[14], 0.7229568362236023f);
  for (int i = 1; i < 16; ++i) EXPECT_LT(kNf4Table[i - 1], kNf4Table[i]);
  const float fp4[16] = {0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3};
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(kFp4Table[i], fp4[i] / 12) << i;
}

TEST(Rtn, KnownAnswerFourBitRow) {
  // One row of 8, 4-bit symmetric per channel: absmax 7 → scale 7/7 = 1 (exact
  // in fp16); codes = rint(w) + 8: [-7, -2.5, 0, 0.4, 1.5, 2.6, 6.9, 7]
  // → q [-7, -2, 0, 0, 2, 3, 7, 7] (rint: ties to even: -2.5 → -2, 1.5 → 2).
  const std::vector<float> w = {-7, -2.5f, 0, 0.4f, 1.5f, 2.6f, 6.9f, 7};
  const QuantizedWeights q = QuantizeWeights(Format("w4a16"), w, 1, 8);
  EXPECT_EQ(F16ToFloat(q.scales[0]), 1.0f);
  EXPECT_EQ(UnpackCodes(q.codes, 1, 8, 4), (std::vector<uint8_t>{1, 6, 8, 8, 10, 11, 15, 15}));
  std::vector<float> d(8);
  DequantizeWeights(q, d);
  EXPECT_EQ(d, (std::vector<float>{-7, -2, 0, 0, 2, 3, 7, 7}));
}

TEST(Rtn, ErrorWithinHalfAScaleForEveryWidthAndGroup) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    const int bits = 2 + trial % 7;
    const int64_t g = int64_t{16} << (trial % 3), out = 1 + rng() % 9, in = g * (1 + rng() % 4);
    for (bool asym : {false, true}) {
      WeightFormat f = Format(SchemeOf(bits, g, asym));
      const auto w = Random(out * in, trial, 0.1f + trial % 5);
      const QuantizedWeights q = QuantizeWeights(f, w, out, in);
      std::vector<float> d(out * in);
      DequantizeWeights(q, d);
      for (int64_t r = 0; r < out; ++r)
        for (int64_t j = 0; j < in; ++j) {
          const float s = q.Scale(r, j / g);
          // Scale rounded up, and for asym a range that contains 0 (so the
          // zero point is an exact code): nothing clips, ≤ s/2 either way.
          ASSERT_LE(std::fabs(w[r * in + j] - d[r * in + j]), 0.5f * s * (1 + 1e-4f))
              << "bits " << bits << " g " << g << " asym " << asym;
        }
    }
  }
}

TEST(Binary, SignTimesMeanAbs) {
  const std::vector<float> w(32, 0.5f);
  std::vector<float> w2 = w;
  for (int i = 0; i < 32; i += 2) w2[i] = -1.5f;  // mean |w| = 1
  const QuantizedWeights q = QuantizeWeights(Format("w1a16-g32"), w2, 1, 32);
  std::vector<float> d(32);
  DequantizeWeights(q, d);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(d[i], i % 2 == 0 ? -1.0f : 1.0f);
}

TEST(Ternary, ThresholdAndScale) {
  // mean |w| = (8·1 + 8·0.1 + 16·0)/32 = 0.275, threshold 0.1925: the ±1 stay
  // (scale 1), the 0.1 and 0 become 0.
  std::vector<float> w(32, 0.0f);
  for (int i = 0; i < 8; ++i) w[i] = i % 2 ? 1.0f : -1.0f;
  for (int i = 8; i < 16; ++i) w[i] = 0.1f;
  const QuantizedWeights q = QuantizeWeights(Format("t2a16-g32"), w, 1, 32);
  std::vector<float> d(32);
  DequantizeWeights(q, d);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(d[i], i < 8 ? w[i] : 0.0f) << i;
}

TEST(Nf4, CodesAreNearestTableEntries) {
  const auto w = Random(4 * 64, 9);
  const QuantizedWeights q = QuantizeWeights(Format("nf4-g64"), w, 4, 64);
  std::vector<float> d(w.size());
  DequantizeWeights(q, d);
  for (size_t i = 0; i < w.size(); ++i) {
    const float s = q.Scale(i / 64, 0);
    float best = INFINITY;
    for (float t : kNf4Table) best = std::min(best, std::fabs(w[i] / s - t));
    EXPECT_NEAR(std::fabs(w[i] / s - d[i] / s), best, 1e-6);
  }
}

void ExpectForwardEqualsDequantizedMatmul(const std::string& scheme, int64_t out, int64_t in, uint32_t seed) {
  const auto w = Random(out * in, seed);
  auto lin = QuantizeLinear(Format(scheme), w, out, in);
  ASSERT_TRUE(lin.ok()) << lin.status();
  const int64_t rows = 5;
  const auto x = Random(rows * in, seed + 1);
  std::vector<float> deq(out * in), y(rows * out), ref(rows * out);
  (*lin)->Dequantize(deq);
  (*lin)->Forward(x.data(), rows, y.data());
  GemmNTReference(rows, out, in, x.data(), deq.data(), ref.data());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-4f * (1 + std::fabs(ref[i]))) << scheme;
}

TEST(PackedLinear, WeightOnlyForwardIsDequantizeThenMatmul) {
  for (const char* s : {"bf16", "fp16", "w8a16", "w4a16-g32", "w4a16-g32-asym", "w3a16-g64", "w2a16-g32",
                        "w1a16-g32", "t2a16-g32", "nf4-g64", "fp4-g32"})
    ExpectForwardEqualsDequantizedMatmul(s, 7, 64, 11);
}

TEST(PackedLinear, IntegerActivationsMatchAStraightforwardLoop) {
  const int64_t out = 6, in = 40, rows = 3;
  const auto w = Random(out * in, 21), x = Random(rows * in, 22);
  for (const char* scheme : {"w8a8", "w4a8", "w4a4"}) {
    const WeightFormat f = Format(scheme);
    auto lin = QuantizeLinear(f, w, out, in);
    ASSERT_TRUE(lin.ok());
    std::vector<float> y(rows * out), wd(out * in);
    (*lin)->Forward(x.data(), rows, y.data());
    (*lin)->Dequantize(wd);
    const int qa = f.act == ActKind::kInt8 ? 127 : 7;
    const int qw = (1 << (f.bits - 1)) - 1;
    for (int64_t i = 0; i < rows; ++i) {
      float amax = 0;
      for (int64_t j = 0; j < in; ++j) amax = std::max(amax, std::fabs(x[i * in + j]));
      const float sa = amax / qa;
      for (int64_t r = 0; r < out; ++r) {
        float wmax = 0;
        for (int64_t j = 0; j < in; ++j) wmax = std::max(wmax, std::fabs(w[r * in + j]));
        const float sw = F16ToFloat(RoundUpToF16(wmax / qw));
        long long acc = 0;
        for (int64_t j = 0; j < in; ++j)
          acc += static_cast<long long>(std::rint(x[i * in + j] / sa)) * static_cast<long long>(std::rint(w[r * in + j] / sw));
        EXPECT_FLOAT_EQ(y[i * out + r], static_cast<float>(acc) * sa * sw) << scheme;
      }
    }
  }
}

TEST(PackedLinear, BadShapesAndCalibratedMethodsAreErrors) {
  const auto w = Random(4 * 48, 1);
  auto bad = QuantizeLinear(Format("w4a16-g32"), w, 4, 47, Method::kRtn, nullptr, "model.layers.0.mlp.up_proj.weight");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model.layers.0.mlp.up_proj.weight: 192 weights for a [4, 47] layer"),
            std::string::npos) << bad.status();
  auto gptq = QuantizeLinear(Format("w4a16-g16"), w, 4, 48, Method::kGptq, nullptr, "t");
  ASSERT_FALSE(gptq.ok());
  EXPECT_EQ(gptq.status().code(), absl::StatusCode::kFailedPrecondition);  // no Hessian
  auto awq = QuantizeLinear(Format("w4a16-g16"), w, 4, 48, Method::kAwq, nullptr, "t");
  ASSERT_FALSE(awq.ok());
  EXPECT_EQ(awq.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Rtn, ShorterLastGroupKeepsTheBound) {
  // 172 inputs in groups of 128: one full group and one of 44 (stories260K's down_proj).
  const auto w = Random(3 * 172, 8);
  const QuantizedWeights q = QuantizeWeights(Format("w4a16-g128"), w, 3, 172);
  EXPECT_EQ(q.groups, 2);
  std::vector<float> d(w.size());
  DequantizeWeights(q, d);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 172; ++j)
      EXPECT_LE(std::fabs(w[r * 172 + j] - d[r * 172 + j]), 0.5f * q.Scale(r, j / 128) * (1 + 1e-6f));
  EXPECT_DOUBLE_EQ(Format("w4a16-g128").BitsPerWeight(172), 4 + 32.0 / 172);
}

TEST(PackedLinear, ColumnSlicesKeepTheWholeTensorsValues) {
  const auto w = Random(5 * 64, 4);
  for (const char* s : {"w4a16-g32", "w8a16", "w8a8", "fp8"}) {
    auto lin = QuantizeLinear(Format(s), w, 5, 64);
    ASSERT_TRUE(lin.ok());
    std::vector<float> whole(5 * 64), part(5 * 16);
    (*lin)->Dequantize(whole);
    (*lin)->SliceColumns(32, 48)->Dequantize(part);
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t j = 0; j < 16; ++j) EXPECT_EQ(part[r * 16 + j], whole[r * 64 + 32 + j]) << s;
  }
}

}  // namespace
}  // namespace qsweep
