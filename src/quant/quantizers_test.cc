// Quantizer and packed-format tests against independent references: the
// published NF4 construction, brute-force fp8 rounding, hand-computed rows,
// and straightforward loops of the integer / fp8 GEMMs.
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

std::vector<float> Normal(int64_t n, uint32_t seed, float mean = 0.0f, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

WeightFormat Format(const std::string& scheme) {
  auto s = ParseScheme(scheme);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->format : WeightFormat{};
}

// Inverse of the standard normal CDF, by bisection (double precision).
double NormalPpf(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(Codebooks, Nf4IsTheQloraConstruction) {
  // bitsandbytes create_normal_map(offset=0.9677083, use_extra_value=True):
  // 8 positive quantiles at linspace(offset, 0.5, 9)[:-1], 7 negative at
  // linspace(offset, 0.5, 8)[:-1], one zero, sorted, divided by the maximum.
  const double offset = 0.9677083, top = NormalPpf(offset);
  std::vector<double> v = {0.0};
  for (int k = 0; k < 8; ++k) v.push_back(NormalPpf(offset - k * (offset - 0.5) / 8) / top);
  for (int k = 0; k < 7; ++k) v.push_back(-NormalPpf(offset - k * (offset - 0.5) / 7) / top);
  std::sort(v.begin(), v.end());
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(kNf4Table[i], v[i], 2e-6) << i;
}

TEST(Codebooks, Fp4IsE2M1InBitsandbytesBitOrder) {
  // Code bits s e1 e0 m: exponent field e = 0 is subnormal (0, 0.0625); e >= 1
  // gives 2^(4 - e) · (1 + m/2); the largest magnitude, 12, normalizes to 1.
  for (int c = 0; c < 16; ++c) {
    const int e = (c >> 1) & 3, m = c & 1;
    const double mag = e == 0 ? 0.0625 * m : std::ldexp(1.0 + m / 2.0, 4 - e);
    EXPECT_EQ(kFp4Table[c], static_cast<float>((c & 8 ? -mag : mag) / 12)) << c;
  }
}

TEST(Fp8, EncodeIsNearestEvenBySearchOverAllCodes) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> exponent(-12, 9.5f), mantissa(1, 2);
  for (int t = 0; t < 20000; ++t) {
    float x = std::ldexp(mantissa(rng), static_cast<int>(exponent(rng))) * (rng() % 2 ? 1 : -1);
    if (t % 7 == 0) {  // exact midpoints between neighbouring codes
      const int c = static_cast<int>(rng() % 126);
      x = (Fp8E4M3ToFloat(static_cast<uint8_t>(c)) + Fp8E4M3ToFloat(static_cast<uint8_t>(c + 1))) / 2;
    }
    int best = -1;
    float best_d = INFINITY;
    for (int c = 0; c < 256; ++c) {
      const float v = Fp8E4M3ToFloat(static_cast<uint8_t>(c));
      if (std::isnan(v) || std::signbit(v) != std::signbit(x)) continue;
      const float d = std::fabs(std::min(std::fabs(x), kFp8E4M3Max) * (x < 0 ? -1 : 1) - v);
      if (d < best_d || (d == best_d && (c & 1) == 0)) {
        best = c;
        best_d = d;
      }
    }
    ASSERT_EQ(FloatToFp8E4M3(x), best) << x;
  }
  EXPECT_EQ(FloatToFp8E4M3(std::nextafter(448.0f, 0.0f)), 0x7e);
  EXPECT_EQ(FloatToFp8E4M3(464.0f), 0x7e);  // the would-be tie with 480 saturates
  EXPECT_EQ(FloatToFp8E4M3(-INFINITY), 0xfe);
  EXPECT_EQ(FloatToFp8E4M3(std::ldexp(1.0f, -10)), 0x00);  // tie between 0 and 2^-9: even
  EXPECT_EQ(FloatToFp8E4M3(std::ldexp(1.5f, -10)), 0x01);
}

TEST(BitPacking, RandomShapesRoundTripAndInt4Layout) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 200; ++trial) {
    const int bits = 1 + trial % 8;
    const int64_t rows = 1 + rng() % 5, cols = 1 + rng() % 300;
    std::vector<uint8_t> codes(rows * cols);
    for (auto& c : codes) c = static_cast<uint8_t>(rng() % (1u << bits));
    ASSERT_EQ(UnpackCodes(PackCodes(codes, rows, cols, bits), rows, cols, bits), codes) << bits << " " << cols;
  }
  // int4: 8 codes per word, code j in bits [4j, 4j + 4); rows start on a word.
  std::vector<uint8_t> c = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 0xa, 0xb, 0xc, 0xd, 0xe, 0x0, 0x3};
  const auto w = PackCodes(c, 1, 17, 4);
  EXPECT_EQ(w, (std::vector<uint32_t>{0x87654321u, 0x0edcbaf9u, 0x3u}));
  EXPECT_EQ(PackCodes(std::vector<uint8_t>(2 * 9, 1), 2, 9, 4).size(), 4u);  // 2 words per row
}

TEST(Rtn, KnownAnswerAsymmetricRow) {
  // 4-bit asymmetric per channel: range [-1, 14], s = 15 / 15 = 1 (exact in
  // fp16), z = rint(1 / 1) = 1; codes rint(w) + 1 with rint(0.5) = 0 (even):
  // [-1, 0, 0.5, 1, 2, 3, 4, 14] → [0, 1, 1, 2, 3, 4, 5, 15].
  const std::vector<float> w = {-1, 0, 0.5f, 1, 2, 3, 4, 14};
  const QuantizedWeights q = QuantizeWeights(Format("w4a16-asym"), w, 1, 8);
  EXPECT_EQ(F16ToFloat(q.scales[0]), 1.0f);
  EXPECT_EQ(q.zeros, std::vector<uint8_t>{1});
  EXPECT_EQ(UnpackCodes(q.codes, 1, 8, 4), (std::vector<uint8_t>{0, 1, 1, 2, 3, 4, 5, 15}));
  std::vector<float> d(8);
  DequantizeWeights(q, d);
  EXPECT_EQ(d, (std::vector<float>{-1, 0, 0, 1, 2, 3, 4, 14}));
}

TEST(Rtn, GroupsOfOneSignStayWithinHalfAScale) {
  // Regression: all-positive groups (range [1, 1.15]) once got a zero point
  // clamped to 0 and collapsed to one value. The range now includes 0.
  std::vector<float> w(16);
  for (int i = 0; i < 16; ++i) w[i] = (i < 8 ? 1.0f : -1.0f) * (1.0f + 0.01f * i);
  for (const char* s : {"w4a16-g16-asym", "w2a16-g16-asym", "w8a16-g16-asym", "w4a16-g16"}) {
    const QuantizedWeights q = QuantizeWeights(Format(s), w, 2, 8);
    std::vector<float> d(16);
    DequantizeWeights(q, d);
    for (int i = 0; i < 16; ++i) EXPECT_LE(std::fabs(w[i] - d[i]), 0.5f * q.Scale(i / 8, 0) * (1 + 1e-6f)) << s;
  }
}

TEST(Rtn, RandomizedHalfScaleBoundSymmetricAndAsymmetric) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 120; ++trial) {
    const int bits = 2 + trial % 7;
    const bool asym = trial % 2;
    const int64_t g = int64_t{16} << (rng() % 4), out = 1 + rng() % 6;
    const int64_t in = trial % 3 == 0 ? g * (1 + rng() % 3) + 1 + rng() % (g - 1) : g * (1 + rng() % 3);
    const std::string name = "w" + std::to_string(bits) + "a16" + (trial % 5 ? "-g" + std::to_string(g) : "") +
                             (asym ? "-asym" : "");
    const WeightFormat f = Format(name);
    // A shifted mean makes groups of one sign common.
    const auto w = Normal(out * in, 1000 + trial, trial % 4 == 0 ? 3.0f : 0.0f, 0.05f + (trial % 5));
    const QuantizedWeights q = QuantizeWeights(f, w, out, in);
    std::vector<float> d(out * in);
    DequantizeWeights(q, d);
    const int64_t gs = q.group_size();
    for (int64_t r = 0; r < out; ++r)
      for (int64_t j = 0; j < in; ++j)
        // 1e-4: x / s is rounded in fp32 before rint (up to 2^-16 of a code at 8 bits).
        ASSERT_LE(std::fabs(w[r * in + j] - d[r * in + j]), 0.5f * q.Scale(r, j / gs) * (1 + 1e-4f))
            << name << " [" << out << ", " << in << "] at " << r << "," << j;
  }
}

TEST(Rtn, BinaryAndTernaryFollowTheirDefinitions) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t g = int64_t{16} << (trial % 3), out = 1 + rng() % 4, in = g * (1 + rng() % 3);
    const auto w = Normal(out * in, trial);
    for (const bool ternary : {false, true}) {
      const QuantizedWeights q =
          QuantizeWeights(Format((ternary ? "t2a16-g" : "w1a16-g") + std::to_string(g)), w, out, in);
      std::vector<float> d(out * in);
      DequantizeWeights(q, d);
      for (int64_t r = 0; r < out; ++r)
        for (int64_t gi = 0; gi < in / g; ++gi) {
          const float* x = w.data() + r * in + gi * g;
          double mean_abs = 0, kept = 0;
          int n_kept = 0;
          for (int64_t i = 0; i < g; ++i) mean_abs += std::fabs(x[i]) / g;
          for (int64_t i = 0; i < g; ++i)
            if (std::fabs(x[i]) > 0.7 * mean_abs) kept += std::fabs(x[i]), ++n_kept;
          const float s = RoundF16(static_cast<float>(ternary ? kept / n_kept : mean_abs));
          for (int64_t i = 0; i < g; ++i) {
            const float want = ternary ? (std::fabs(x[i]) > 0.7 * mean_abs ? std::copysign(s, x[i]) : 0.0f)
                                       : std::copysign(s, x[i]);
            ASSERT_NEAR(d[r * in + gi * g + i], want, 1e-6f * s) << (ternary ? "ternary" : "binary");
          }
        }
    }
  }
}

TEST(Rtn, Nf4AndFp4PickTheNearestCodeOfTheBlockAbsmax) {
  for (const char* scheme : {"nf4-g64", "fp4-g64", "nf4-g16", "fp4-g128"}) {
    const WeightFormat f = Format(scheme);
    const float* table = f.kind == WeightKind::kNf4 ? kNf4Table : kFp4Table;
    const int64_t g = f.group, out = 3, in = 2 * g;
    const auto w = Normal(out * in, 77);
    const QuantizedWeights q = QuantizeWeights(f, w, out, in);
    std::vector<float> d(w.size());
    DequantizeWeights(q, d);
    for (int64_t i = 0; i < out * in; ++i) {
      const int64_t r = i / in, gi = (i % in) / g;
      float absmax = 0;
      for (int64_t j = 0; j < g; ++j) absmax = std::max(absmax, std::fabs(w[r * in + gi * g + j]));
      const float s = q.Scale(r, gi);
      ASSERT_GE(s, absmax);
      ASSERT_LE(s, absmax * (1 + 1.0f / 1024));  // fp16 round-up of the absmax
      float best = INFINITY;
      for (int c = 0; c < 16; ++c) best = std::min(best, std::fabs(w[i] / s - table[c]));
      ASSERT_NEAR(std::fabs(w[i] / s - d[i] / s), best, 1e-6f) << scheme;
    }
  }
}

TEST(Rtn, PackedBytesAreTheHonestBitCount) {
  for (const char* s : {"w4a16-g128", "w4a16-g128-asym", "w3a16-g128", "w2a16-g64", "w1a16-g128", "t2a16-g128",
                        "nf4-g64", "fp4-g64", "w8a16", "fp8"}) {
    const WeightFormat f = Format(s);
    const int64_t out = 16, in = 256;
    const QuantizedWeights q = QuantizeWeights(f, Normal(out * in, 1), out, in);
    EXPECT_EQ(q.packed_bytes() * 8, static_cast<int64_t>(f.BitsPerWeight(in) * out * in)) << s;
  }
  EXPECT_DOUBLE_EQ(Format("w1a16-g128").BitsPerWeight(4096), 1.125);
  EXPECT_DOUBLE_EQ(Format("t2a16-g128").BitsPerWeight(4096), 2.125);
  EXPECT_DOUBLE_EQ(Format("w3a16-g128").BitsPerWeight(4096), 3.125);
  EXPECT_DOUBLE_EQ(Format("w2a16-g64").BitsPerWeight(4096), 2.25);
  EXPECT_DOUBLE_EQ(Format("w8a16").BitsPerWeight(4096), 8 + 16.0 / 4096);
}

TEST(PackedLinear, DenseFormatsRoundTheirWeights) {
  const auto w = Normal(6 * 10, 3);
  for (const char* s : {"fp32", "bf16", "fp16"}) {
    auto lin = QuantizeLinear(Format(s), w, 6, 10);
    ASSERT_TRUE(lin.ok());
    std::vector<float> d(60);
    (*lin)->Dequantize(d);
    for (int i = 0; i < 60; ++i)
      EXPECT_EQ(d[i], std::string(s) == "fp32" ? w[i] : std::string(s) == "bf16" ? RoundBF16(w[i]) : RoundF16(w[i]));
    EXPECT_EQ((*lin)->packed_bytes(), std::string(s) == "fp32" ? 240 : 120);
  }
}

TEST(PackedLinear, RandomShapesForwardIsDequantizeThenMatmul) {
  std::mt19937 rng(8);
  const char* schemes[] = {"w8a16", "w4a16-g16", "w4a16-g32-asym", "w3a16-g16", "w2a16-g16", "w1a16-g16",
                           "t2a16-g32", "nf4-g16", "fp4-g16", "w5a16-asym", "bf16"};
  for (int trial = 0; trial < 33; ++trial) {
    const std::string s = schemes[trial % 11];
    const int64_t out = 1 + rng() % 20, in = 16 * (1 + rng() % 6) + (trial % 3 ? 0 : 5), rows = 1 + rng() % 7;
    const auto w = Normal(out * in, trial), x = Normal(rows * in, trial + 100);
    auto lin = QuantizeLinear(Format(s), w, out, in);
    ASSERT_TRUE(lin.ok()) << lin.status();
    std::vector<float> deq(out * in), y(rows * out), ref(rows * out);
    (*lin)->Dequantize(deq);
    (*lin)->Forward(x.data(), rows, y.data());
    GemmNTReference(rows, out, in, x.data(), deq.data(), ref.data());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t r = 0; r < out; ++r) {
        double l1 = 0;  // fp32 summation-order error is a few ulps of sum |x·w|
        for (int64_t j = 0; j < in; ++j) l1 += std::fabs(x[i * in + j] * deq[r * in + j]);
        ASSERT_NEAR(y[i * out + r], ref[i * out + r], 1e-6 + 1e-5 * l1) << s << " " << i << "," << r;
      }
  }
}

TEST(PackedLinear, Fp8MatchesAStraightforwardLoop) {
  const int64_t out = 5, in = 48, rows = 4;
  const auto w = Normal(out * in, 31, 0.0f, 0.02f), x = Normal(rows * in, 32, 0.0f, 3.0f);
  auto lin = QuantizeLinear(Format("fp8"), w, out, in);
  ASSERT_TRUE(lin.ok());
  std::vector<float> y(rows * out);
  (*lin)->Forward(x.data(), rows, y.data());
  auto fp8 = [](float v) { return Fp8E4M3ToFloat(FloatToFp8E4M3(v)); };
  for (int64_t i = 0; i < rows; ++i) {
    float amax = 0;
    for (int64_t j = 0; j < in; ++j) amax = std::max(amax, std::fabs(x[i * in + j]));
    const float sx = amax / 448;
    for (int64_t r = 0; r < out; ++r) {
      float wmax = 0;
      for (int64_t j = 0; j < in; ++j) wmax = std::max(wmax, std::fabs(w[r * in + j]));
      const float sw = F16ToFloat(RoundUpToF16(wmax / 448));
      float acc = 0;
      for (int64_t j = 0; j < in; ++j) acc += fp8(x[i * in + j] / sx) * fp8(w[r * in + j] / sw);
      EXPECT_FLOAT_EQ(y[i * out + r], acc * sx * sw);
    }
  }
}

TEST(PackedLinear, ActivationRowKnownAnswer) {
  // qmax 7, absmax 7: s = 1 (exact, so the ties are real ties); rint, ties
  // to even: [1, -2.5, 0.5, 7, -3.2] → [1, -2, 0, 7, -3].
  const float x[5] = {1, -2.5f, 0.5f, 7, -3.2f};
  int8_t c[5];
  float s = 0;
  QuantizeActivationRow(x, 5, 7, c, &s);
  EXPECT_EQ(s, 1.0f);
  EXPECT_EQ(std::vector<int8_t>(c, c + 5), (std::vector<int8_t>{1, -2, 0, 7, -3}));
  const float zeros[3] = {0, 0, 0};
  QuantizeActivationRow(zeros, 3, 127, c, &s);
  EXPECT_EQ(std::vector<int8_t>(c, c + 3), (std::vector<int8_t>{0, 0, 0}));
}

// The values QuantizedActivationValues gives, times the dequantized
// weights, are what each activation-quantized layer computes (the bench's
// reference relies on it); weight-only formats multiply x itself.
TEST(PackedLinear, QuantizedActivationValuesAreWhatTheLayerMultiplies) {
  const int64_t out = 24, in = 96, rows = 5;
  const auto w = Normal(out * in, 3), x = Normal(rows * in, 4);
  for (const char* name : {"w8a8", "w4a8", "w4a4", "fp8", "w4a16-g32"}) {
    auto l = QuantizeLinear(Format(name), w, out, in);
    ASSERT_TRUE(l.ok()) << l.status();
    std::vector<float> wq(out * in), y(rows * out);
    (*l)->Dequantize(wq);
    (*l)->Forward(x.data(), rows, y.data());
    for (int64_t m = 0; m < rows; ++m) {
      const std::vector<float> v = QuantizedActivationValues((*l)->format().act, &x[m * in], in);
      for (int64_t n = 0; n < out; ++n) {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < in; ++k) {
          ref += double{v[k]} * wq[n * in + k];
          mag += std::fabs(double{v[k]} * wq[n * in + k]);
        }
        EXPECT_LE(std::fabs(y[m * out + n] - ref), 1e-5 * mag) << name << " row " << m << " column " << n;
      }
    }
  }
  const float x3[3] = {1.0f, -0.3f, 2.0f};
  EXPECT_EQ(QuantizedActivationValues(ActKind::kNone, x3, 3), std::vector<float>(x3, x3 + 3));
}

TEST(PackedLinear, AwqIsNotAQuantizerOfOneTensor) {
  const auto w = Normal(4 * 32, 1);
  LayerCalibration calib;
  calib.mean_abs_input.assign(32, 1.0f);
  auto r = QuantizeLinear(Format("w4a16-g16"), w, 4, 32, Method::kAwq, &calib, "model.layers.1.self_attn.o_proj.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("model.layers.1.self_attn.o_proj.weight: AWQ chooses scales and clipping"),
            std::string::npos)
      << r.status();
  EXPECT_TRUE(QuantizeLinear(Format("w4a16-g16"), w, 4, 32, Method::kRtn, &calib).ok());  // rtn ignores it
}

TEST(PackedLinear, GptqWithoutAHessianNamesTheTensor) {
  const auto w = Normal(4 * 32, 1);
  LayerCalibration no_hessian;
  no_hessian.mean_abs_input.assign(32, 1.0f);
  for (const LayerCalibration* calib : std::vector<const LayerCalibration*>{nullptr, &no_hessian}) {
    auto r = QuantizeLinear(Format("w4a16-g16"), w, 4, 32, Method::kGptq, calib, "model.layers.2.mlp.up_proj.weight");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("model.layers.2.mlp.up_proj.weight: GPTQ needs the Hessian"), std::string::npos)
        << r.status();
  }
  // Dense formats need nothing, whatever the method.
  EXPECT_TRUE(QuantizeLinear(WeightFormat::Dense(16), w, 4, 32, Method::kGptq, nullptr).ok());
}

}  // namespace
}  // namespace qsweep
