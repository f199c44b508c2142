// The low-bit GEMM family (kernels/lowbit) through the GPU backend, against
// the CPU reference: every weight format on shapes that are not multiples of
// the tiles, group sizes that do not divide the inputs, and row counts of
// both regimes. Runs on the GPU machine; skipped where there is no GPU.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "backend/cuda/gpu_linear_for_test.h"
#include "core/dtype.h"
#include "quant/mma_tiled_weights.h"
#include "quant/packed_linear.h"
#include "quant/quantized_weights.h"

namespace qsweep {
namespace {

using LowbitTest = GpuLinearTest;

// Each weight read back exactly: x = one-hot rows picks W's columns, a
// single term each, so the expanded product must return the CPU's
// dequantized weight rounded to bf16, and the low-bit product the weight it
// promises (LowbitGemmKeepsFp32Weights: the fp32 value itself), bit for bit.
TEST_F(LowbitTest, EveryWeightReadsBackAsTheCpuDequantizesIt) {
  const char* formats[] = {"w4a16-g128", "w4a16-g32-asym", "w8a16", "w3a16-g128", "w2a16-g64", "w5a16-g64",
                           "w6a16-g128-asym", "w7a16", "w1a16-g128", "t2a16-g64", "nf4-g64", "fp4-g32", "fp8a16"};
  const int64_t out = 40, in = 320;
  for (const char* name : formats) {
    auto packed = Must(QuantizeLinear(FormatOf(name), Normal(out * in, 11), out, in));
    std::vector<float> wq(out * in);
    packed->Dequantize(wq);
    auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection, std::move(packed)));
    for (const bool invariant : {true, false}) {
      int bad = 0;
      for (int64_t k0 = 0; k0 < in; k0 += 64) {
        const int64_t rows = std::min<int64_t>(64, in - k0);
        std::vector<float> x(rows * in, 0.0f);
        for (int64_t r = 0; r < rows; ++r) x[r * in + k0 + r] = 1.0f;
        const auto y = Product(*l, x, rows, DType::kF32, invariant);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t n = 0; n < out; ++n) {
            const float v = wq[n * in + k0 + r];
            const float want = !invariant && LowbitGemmKeepsFp32Weights(FormatOf(name)) ? v : RoundBF16(v);
            if (y[r * out + n] != want && bad++ < 4)
              ADD_FAILURE() << name << (invariant ? " expanded" : " low-bit") << " weight (" << n << ", " << k0 + r
                            << "): " << y[r * out + n] << ", want " << want;
          }
      }
      EXPECT_EQ(bad, 0) << name << (invariant ? " expanded" : " low-bit");
    }
  }
}

// The reference: the CPU's dequantized weights as the GPU promises to
// compute with them (fp32 or rounded to bf16, LowbitGemmKeepsFp32Weights),
// products in fp64. Errors are measured against the sum of |terms|, which
// bounds fp32 accumulation's rounding; the other reference differs by about
// 2^-9 / sqrt(in) of it, so the bound tells the two apart.
TEST_F(LowbitTest, EveryFormatMatchesDequantizeThenMatmul) {
  const char* formats[] = {"w4a16-g128", "w4a16-g32-asym", "w8a16", "w3a16-g128", "w2a16-g64",
                           "w2a16-g16-asym", "w5a16-g64", "w6a16-g128-asym", "w7a16", "w1a16-g128",
                           "t2a16-g64", "nf4-g64", "fp4-g32", "fp8a16"};
  struct Shape {
    int64_t out, in;
  };
  // 1000: groups of 64/128 do not divide it; 100: not a multiple of 8 (the
  // low-bit kernel's loads), so every product takes the dequantized path;
  // 1024 x 2048: few row tiles, the input split across blocks.
  const Shape shapes[] = {{48, 320}, {200, 1000}, {72, 100}, {1024, 2048}};
  const int64_t row_counts[] = {1, 3, 8, 13, 16, 33, 64, 100};
  for (const char* name : formats)
    for (const Shape& s : shapes) {
      const WeightFormat f = FormatOf(name);
      const auto w = Normal(s.out * s.in, 7 + static_cast<uint32_t>(s.in));
      auto packed = Must(QuantizeLinear(f, w, s.out, s.in));
      std::vector<float> w32(s.out * s.in);
      packed->Dequantize(w32);
      std::vector<float> wq = w32;
      for (float& v : wq) v = RoundBF16(v);
      auto lowbit = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection, std::move(packed)));
      auto dense = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                           Must(QuantizeLinear(WeightFormat::Dense(16), wq, s.out, s.in))));
      for (int64_t rows : row_counts) {
        const std::string what = absl::StrFormat("%s %dx%d rows %d", name, s.out, s.in, rows);
        const auto x = NormalBf16(rows * s.in, 100 + static_cast<uint32_t>(rows));
        // Batch-invariant products expand the packed weights and run the bf16
        // GEMM: the same bits as the dequantized weights stored dense.
        const auto expanded = Product(*lowbit, x, rows, DType::kF32, true),
                   want_bits = Product(*dense, x, rows, DType::kF32, true);
        for (int64_t i = 0; i < rows * s.out; ++i)
          ASSERT_EQ(expanded[i], want_bits[i]) << what << " (expanded) at " << i;
        const auto y = Product(*lowbit, x, rows, DType::kF32, false);
        // The low-bit kernel takes up to 64 rows whose inputs are a multiple
        // of 8; every other product expands the weights to bf16. The
        // backend's own answer (what benches check against) must agree.
        const bool fp32 = LowbitGemmKeepsFp32Weights(f) && s.in % 8 == 0 && rows <= 64;
        gpu_->SetBatchInvariant(false);
        EXPECT_EQ(gpu_->MatmulKeepsFp32Weights(*lowbit, rows), fp32) << what;
        gpu_->SetBatchInvariant(true);
        const std::vector<float>& promised = fp32 ? w32 : wq;
        double worst = 0;
        for (int64_t m = 0; m < rows; ++m)
          for (int64_t n = 0; n < s.out; ++n) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < s.in; ++k) {
              const double t = double{x[m * s.in + k]} * promised[n * s.in + k];
              ref += t;
              mag += std::fabs(t);
            }
            worst = std::max(worst, std::fabs(y[m * s.out + n] - ref) / (mag + 1e-30));
          }
        EXPECT_LT(worst, 2e-5) << what;
      }
    }
}

// Round to nearest on the device (kernels/lowbit/lowbit_quantize.cuh)
// writes the codes, scales and zero points of the CPU quantizer, cut into
// column parts as the CPU cuts a row-parallel layer, in the tiled layout:
// every format, shapes off the tiles, groups that do not divide the inputs,
// per-channel scales over parts, and the edge cases of the grids (a row of
// zeros, a constant row, signed zeros).
TEST_F(LowbitTest, DeviceQuantizationWritesTheCpuQuantizersCodesAndScales) {
  const char* formats[] = {"w4a16-g128", "w4a16-g32-asym", "w8a16", "w3a16-g128", "w2a16-g64", "w2a16-g16-asym",
                           "w5a16-g64", "w6a16-g128-asym", "w7a16", "w4a16-g128-asym", "w1a16-g128", "t2a16-g64",
                           "t2a16-g16", "nf4-g64", "fp4-g32", "fp8a16"};
  struct Case {
    int64_t out, in, parts;
  };
  const Case cases[] = {{48, 320, 1}, {200, 1000, 1}, {72, 100, 1}, {40, 512, 4}, {1024, 2048, 8}, {24, 1024, 8}};
  for (const char* name : formats)
    for (const Case& c : cases) {
      const WeightFormat f = FormatOf(name);
      const int64_t width = c.in / c.parts;
      if (c.parts > 1 && f.group > 0 && width % f.group) continue;
      const std::string what = absl::StrFormat("%s %dx%d in %d parts", name, c.out, c.in, c.parts);
      std::vector<float> w = NormalBf16(c.out * c.in, 3 + static_cast<uint32_t>(c.in + c.parts));
      std::fill_n(w.begin(), c.in, 0.0f);             // row 0: zeros (scale 0)
      std::fill_n(w.begin() + c.in, c.in, 0.375f);    // row 1: constant
      for (int64_t k = 0; k < c.in; k += 7) w[2 * c.in + k] = -0.0f;
      const QuantizedWeights whole = QuantizeWeights(f, w, c.out, c.in);
      std::vector<std::unique_ptr<PackedLinear>> dense_parts;
      for (int64_t p = 0; p < c.parts; ++p) {
        std::vector<float> v(c.out * width);
        for (int64_t r = 0; r < c.out; ++r)
          std::copy_n(w.begin() + r * c.in + p * width, width, v.begin() + r * width);
        dense_parts.push_back(Must(QuantizeLinear(WeightFormat::Dense(16), std::move(v), c.out, width)));
      }
      auto dense = Must(gpu_->CreateLinearParts("model.layers.0.mlp.down_proj.weight", std::move(dense_parts)));
      auto layers = Must(gpu_->QuantizeLinearParts("model.layers.0.mlp.down_proj.weight", LinearRole::kProjection,
                                                   dense, f));
      ASSERT_EQ(static_cast<int64_t>(layers.size()), c.parts) << what;
      for (int64_t p = 0; p < c.parts; ++p) {
        const MmaTiledWeights want =
            TileForMma(c.parts == 1 ? whole : SliceQuantizedColumns(whole, p * width, (p + 1) * width));
        const auto got = gpu_->DownloadTiled(*layers[p]);
        ASSERT_TRUE(got.has_value()) << what;
        ASSERT_EQ(got->codes.size(), want.codes.size()) << what;
        ASSERT_EQ(got->scales.size(), want.scales.size()) << what;
        ASSERT_EQ(got->zeros.size(), want.zeros.size()) << what;
        int64_t bad = 0;
        for (size_t i = 0; i < want.codes.size(); ++i)
          if (got->codes[i] != want.codes[i] && bad++ < 3)
            ADD_FAILURE() << what << " part " << p << " code word " << i << ": " << got->codes[i] << ", want "
                          << want.codes[i];
        for (size_t i = 0; i < want.scales.size(); ++i)
          if (got->scales[i] != want.scales[i] && bad++ < 6)
            ADD_FAILURE() << what << " part " << p << " scale " << i << ": " << got->scales[i] << ", want "
                          << want.scales[i];
        for (size_t i = 0; i < want.zeros.size(); ++i)
          if (got->zeros[i] != want.zeros[i] && bad++ < 9)
            ADD_FAILURE() << what << " part " << p << " zero " << i << ": " << int{got->zeros[i]} << ", want "
                          << int{want.zeros[i]};
        EXPECT_EQ(bad, 0) << what << " part " << p;
      }
    }
}

// The kernel's promise: a row's result does not depend on the batch (its
// size, the other rows, its position).
TEST_F(LowbitTest, ARowsResultDoesNotDependOnTheBatch) {
  const int64_t out = 1024, in = 4096, rows = 37;
  for (const char* name : {"w4a16-g128", "nf4-g64", "w3a16-g128"}) {
    auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                     Must(QuantizeLinear(FormatOf(name), Normal(out * in, 3), out, in))));
    const auto x = NormalBf16(rows * in, 4);
    const auto all = Product(*l, x, rows, DType::kF32, false);
    for (int64_t r : {0, 5, 13, 36}) {
      const std::vector<float> one(x.begin() + r * in, x.begin() + (r + 1) * in);
      const auto y1 = Product(*l, one, 1, DType::kF32, false);
      // The same row at another position among 64 (other rows: noise).
      std::vector<float> many = NormalBf16(64 * in, 5 + static_cast<uint32_t>(r));
      std::copy(one.begin(), one.end(), many.begin() + (63 - r) * in);
      const auto y64 = Product(*l, many, 64, DType::kF32, false);
      for (int64_t n = 0; n < out; ++n) {
        ASSERT_EQ(y1[n], all[r * out + n]) << name << " row " << r << " alone vs in 37, column " << n;
        ASSERT_EQ(y64[(63 - r) * out + n], all[r * out + n]) << name << " row " << r << " among 64, column " << n;
      }
    }
  }
}

// Packed layers take their packed bytes of device memory.
TEST_F(LowbitTest, PackedLayersTakeTheirPackedBytes) {
  const int64_t out = 4096, in = 4096;
  const int64_t before = gpu_->WeightBytes();
  auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                   Must(QuantizeLinear(FormatOf("w4a16-g128"), Normal(out * in, 9), out, in))));
  const int64_t packed = gpu_->WeightBytes() - before;
  EXPECT_NEAR(static_cast<double>(packed), out * in * (4 + 16.0 / 128) / 8, 4096) << "bytes of a w4a16-g128 layer";
  l.reset();
  EXPECT_EQ(gpu_->WeightBytes(), before) << "a freed layer's bytes";
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

// A decode step's use of the family: a row-parallel layer added to the fp32
// residual (the tp-1 fast path, y += x·Wᵀ) at decode-sized row counts, on
// Llama shapes whose inputs the kernel splits across blocks, called again
// and again on one workspace (whose counters each call must leave zeroed),
// layers of different shapes in turn. Each sum against an fp64 reference.
TEST_F(LowbitTest, RepeatedResidualAddsOnDecodeShapes) {
  struct Shape {
    int64_t out, in;
  };
  const Shape shapes[] = {{4096, 14336}, {14336, 4096}, {4096, 4096}, {1024, 4096}};
  for (const char* name : {"w4a16-g128", "w8a16", "nf4-g64"}) {
    std::vector<std::vector<float>> dequantized;
    std::vector<std::unique_ptr<Linear>> layers;
    for (const Shape& s : shapes) {
      auto packed = Must(QuantizeLinear(FormatOf(name), Normal(s.out * s.in, 21 + static_cast<uint32_t>(s.in)), s.out,
                                        s.in));
      std::vector<float> wq(s.out * s.in);
      packed->Dequantize(wq);
      if (!LowbitGemmKeepsFp32Weights(FormatOf(name)))
        for (float& v : wq) v = RoundBF16(v);
      dequantized.push_back(std::move(wq));
      std::vector<std::unique_ptr<PackedLinear>> one;
      one.push_back(std::move(packed));
      auto parts = Must(gpu_->CreateLinearParts("model.layers.0.mlp.down_proj.weight", std::move(one)));
      layers.push_back(std::move(parts[0]));
    }
    gpu_->SetBatchInvariant(false);
    for (int round = 0; round < 3; ++round)
      for (size_t l = 0; l < layers.size(); ++l)
        for (int64_t rows : {1, 3}) {
          const Shape s = shapes[l];
          const std::string what = absl::StrFormat("%s %dx%d rows %d round %d", name, s.out, s.in, rows, round);
          const auto x = NormalBf16(rows * s.in, 300 + static_cast<uint32_t>(round * 10 + l + rows));
          const auto r0 = Normal(rows * s.out, 400 + static_cast<uint32_t>(round * 10 + l + rows));
          Act xa = Must(gpu_->AllocAs(rows, s.in, DType::kBF16)), res = Must(gpu_->AllocAs(rows, s.out, DType::kF32));
          Act out = Must(gpu_->AllocAs(rows, s.out, DType::kBF16));
          gpu_->UploadTo(x, xa);
          gpu_->UploadTo(r0, res);
          std::vector<Act> outs = {out};
          gpu_->RowParallelAdd(std::span<const std::unique_ptr<Linear>>(&layers[l], 1), xa, {}, outs, res);
          const std::vector<float> y = gpu_->Download(res);
          double worst = 0;
          for (int64_t m = 0; m < rows; ++m)
            for (int64_t n = 0; n < s.out; ++n) {
              double ref = r0[m * s.out + n], mag = std::fabs(ref);
              for (int64_t k = 0; k < s.in; ++k) {
                const double t = double{x[m * s.in + k]} * dequantized[l][n * s.in + k];
                ref += t;
                mag += std::fabs(t);
              }
              const double e = std::fabs(y[m * s.out + n] - ref) / (mag + 1e-30);
              worst = std::isfinite(e) ? std::max(worst, e) : INFINITY;
            }
          EXPECT_LT(worst, 2e-5) << what;
          for (Act* a : {&xa, &res, &out}) gpu_->Free(*a);
        }
    gpu_->SetBatchInvariant(true);
  }
}

}  // namespace
}  // namespace qsweep
