#include "quant/tensor_quantizer.h"

#include <random>
#include <utility>

#include <gtest/gtest.h>

#include "quant/gptq.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"
#include "random_for_test.h"

namespace qsweep {
namespace {

SchemeSpec Spec(const std::string& name) {
  auto s = ResolveScheme(name);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

std::vector<float> Values(const PackedLinear& l) {
  std::vector<float> v(l.out_features() * l.in_features());
  l.Dequantize(v);
  return v;
}

std::vector<float> Columns(const std::vector<float>& w, int64_t out, int64_t in, int64_t begin, int64_t end) {
  std::vector<float> s;
  for (int64_t r = 0; r < out; ++r) s.insert(s.end(), w.begin() + r * in + begin, w.begin() + r * in + end);
  return s;
}

constexpr const char* kDown = "model.layers.3.mlp.down_proj.weight";

// Every format of the grammar: a row-parallel layer's parts hold exactly
// the values of the whole tensor quantized at once, whichever rank asks.
TEST(TensorQuantizer, RowParallelPartsEqualTheWholeTensorCut) {
  const int64_t out = 6, in = 512, total = 8, width = in / total;
  const std::vector<float> w = Normal(out * in, 3);
  for (const char* name : {"fp32", "bf16", "fp16", "w8a16", "w4a16-g64", "w3a16-g32-asym", "w2a16-g128", "w1a16-g32",
                           "t2a16-g64", "nf4-g64", "fp4-g32", "fp8", "w8a8", "w4a4"}) {
    SCOPED_TRACE(name);
    const SchemeSpec spec = Spec(name);
    auto whole = QuantizeTensor(spec, kDown, w, out, in);
    ASSERT_TRUE(whole.ok()) << whole.status();
    const std::vector<float> all = Values(**whole);
    for (const auto& [first, count] : {std::pair<int64_t, int64_t>{0, 8}, {2, 2}, {7, 1}}) {
      std::vector<std::pair<int64_t, int64_t>> reads;
      auto parts = QuantizeRowParallelParts(spec, kDown, out, in, first, count, total,
                                            [&](int64_t b, int64_t e) -> absl::StatusOr<std::vector<float>> {
                                              reads.emplace_back(b, e);
                                              return Columns(w, out, in, b, e);
                                            });
      ASSERT_TRUE(parts.ok()) << parts.status();
      ASSERT_EQ(static_cast<int64_t>(parts->size()), count);
      for (int64_t p = 0; p < count; ++p) {
        const int64_t b = (first + p) * width;
        EXPECT_EQ(Values(*(*parts)[p]), Columns(all, out, in, b, b + width)) << "part " << first + p;
      }
      // One read; only this rank's columns where no scale spans the parts.
      const WeightFormat f = FormatFor(spec, kDown);
      const bool local = !f.quantized() || (f.group > 0 && width % f.group == 0);
      ASSERT_EQ(reads.size(), 1u);
      EXPECT_EQ(reads[0], local ? std::make_pair(first * width, (first + count) * width) : std::make_pair(int64_t{0}, in));
    }
  }
}

// Cut on group boundaries (or per channel), a weight-only layer stays packed:
// the GPU's low-bit kernels get codes, not dequantized floats.
TEST(TensorQuantizer, PartsOnGroupBoundariesStayPacked) {
  const int64_t out = 4, in = 256;
  const std::vector<float> w = Normal(out * in, 5);
  for (const char* name : {"w4a16-g64", "w8a16", "w3a16-g32-asym", "nf4-g64"}) {
    SCOPED_TRACE(name);
    auto whole = QuantizeTensor(Spec(name), kDown, w, out, in);
    ASSERT_TRUE(whole.ok());
    auto part = (*whole)->SliceColumns(64, 128);
    ASSERT_NE(part->quantized_weights(), nullptr);
    EXPECT_EQ(part->format(), (*whole)->format());
    EXPECT_LT(part->packed_bytes(), (*whole)->packed_bytes());
    EXPECT_EQ(Values(*part), Columns(Values(**whole), out, in, 64, 128));
  }
  // Inside a group: the values still equal the whole's, held dense.
  auto g64 = QuantizeTensor(Spec("w4a16-g64"), kDown, w, out, in);
  auto inside = (*g64)->SliceColumns(32, 96);
  EXPECT_EQ(inside->quantized_weights(), nullptr);
  EXPECT_EQ(Values(*inside), Columns(Values(**g64), out, in, 32, 96));
}

// GPTQ through the pipeline's one entry: the codes of GptqQuantize for the
// tensor's format, the spec's settings, and row-parallel parts cut from the
// whole tensor (its errors move across every column, so no part is local).
TEST(TensorQuantizer, GptqPartsEqualTheWholeTensorCut) {
  const int64_t out = 6, in = 256, total = 8, width = in / total, n = 300;
  const std::vector<float> w = Normal(out * in, 3), x = Normal(n * in, 4);
  HessianAccumulator acc(in);
  acc.Add(x.data(), n);
  LayerCalibration calib;
  calib.hessian = acc.Hessian();
  calib.tokens = n;
  calib.gptq.act_order = true;
  for (const char* name : {"w4a16-g32-gptq", "w3a16-asym-gptq", "w8a8-gptq", "bf16"}) {
    SCOPED_TRACE(name);
    const SchemeSpec spec = Spec(name);
    QuantizeReport report;
    auto whole = QuantizeTensor(spec, kDown, w, out, in, &calib, &report);
    ASSERT_TRUE(whole.ok()) << whole.status();
    const WeightFormat f = FormatFor(spec, kDown);
    if (f.quantized()) {
      EXPECT_EQ(report.damp_used, 0.01);
      auto direct = GptqQuantize(f, w, out, in, calib.hessian, calib.gptq, kDown);
      ASSERT_TRUE(direct.ok());
      std::vector<float> expect(out * in);
      DequantizeWeights(direct->weights, expect);
      EXPECT_EQ(Values(**whole), expect);
      if (f.act == ActKind::kNone) {
        ASSERT_NE((*whole)->quantized_weights(), nullptr);
        EXPECT_EQ((*whole)->quantized_weights()->codes, direct->weights.codes);
      }
      // Not RTN's codes.
      EXPECT_NE(Values(**whole), Values(**QuantizeLinear(f, w, out, in)));
    }
    std::vector<std::pair<int64_t, int64_t>> reads;
    auto parts = QuantizeRowParallelParts(spec, kDown, out, in, 2, 2, total,
                                          [&](int64_t b, int64_t e) -> absl::StatusOr<std::vector<float>> {
                                            reads.emplace_back(b, e);
                                            return Columns(w, out, in, b, e);
                                          }, &calib);
    ASSERT_TRUE(parts.ok()) << parts.status();
    const std::vector<float> all = Values(**whole);
    for (int64_t p = 0; p < 2; ++p)
      EXPECT_EQ(Values(*(*parts)[p]), Columns(all, out, in, (2 + p) * width, (3 + p) * width));
    ASSERT_EQ(reads.size(), 1u);
    EXPECT_EQ(reads[0], f.quantized() ? std::make_pair(int64_t{0}, in) : std::make_pair(2 * width, 4 * width));
  }
}

TEST(TensorQuantizer, UnevenPartsAreRefused) {
  auto r = QuantizeRowParallelParts(Spec("bf16"), kDown, 2, 100, 0, 1, 8,
                                    [](int64_t, int64_t) -> absl::StatusOr<std::vector<float>> { return std::vector<float>(); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(std::string(kDown) + ": parts [0, 1) of 8 do not cut 100 input columns evenly"),
            std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace qsweep
