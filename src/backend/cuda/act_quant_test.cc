// Activation-quantized layers (W8A8, W4A8, W4A4, FP8) through the GPU
// backend against the CPU reference (quant/packed_linear.cc): the device's
// activation codes and scales are the CPU's exactly, integer products equal
// the CPU's results bit for bit, fp8 products within fp32 accumulation's
// rounding, and a row's result does not depend on its batch. Runs on the
// GPU machine; skipped where there is no GPU.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "act_quant.cuh"
#include "backend/cuda/gpu_linear_for_test.h"
#include "core/dtype.h"
#include "quant/fp8.h"
#include "quant/packed_linear.h"

namespace qsweep {
namespace {

using ActQuantTest = GpuLinearTest;

// Rows with a zero row, a row of one huge value among tiny ones (codes in
// e4m3's subnormal range and integer zeros), ties of rint (x / scale = k +
// 1/2 exactly) and random rows, through the device kernel and the CPU's.
TEST_F(ActQuantTest, CodesAndScalesAreTheCpus) {
  const int64_t cols = 1000, ld_codes = 1008;
  std::vector<float> x = NormalBf16(8 * cols, 21);
  std::fill(x.begin(), x.begin() + cols, 0.0f);
  for (int64_t j = 0; j < cols; ++j) x[cols + j] = RoundBF16(1e-3f * (j % 17 - 8));
  x[cols + 7] = 448.0f;
  for (int64_t j = 0; j < cols; ++j) x[2 * cols + j] = (j % 255 - 127) + 0.5f;  // scale 127.5/127: ties
  x[2 * cols] = 127.5f;
  const int64_t rows = static_cast<int64_t>(x.size()) / cols;
  std::vector<uint16_t> xb(x.size());
  for (size_t i = 0; i < x.size(); ++i) xb[i] = FloatToBF16(x[i]);
  void *dx, *dcodes, *dscales;
  ASSERT_EQ(cudaMalloc(&dx, xb.size() * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dcodes, rows * ld_codes), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dscales, rows * 4), cudaSuccess);
  cudaMemcpy(dx, xb.data(), xb.size() * 2, cudaMemcpyHostToDevice);
  using kernels::ActCode;
  for (const ActCode code : {ActCode::kInt8, ActCode::kInt4, ActCode::kFp8}) {
    const char* what = code == ActCode::kInt8 ? "int8" : code == ActCode::kInt4 ? "int4" : "e4m3";
    cudaMemset(dcodes, 0x55, rows * ld_codes);
    kernels::QuantizeActivations(static_cast<const __nv_bfloat16*>(dx), rows, cols, cols, code,
                                 static_cast<int8_t*>(dcodes), ld_codes, static_cast<float*>(dscales), 0);
    std::vector<int8_t> codes(rows * ld_codes);
    std::vector<float> scales(rows);
    ASSERT_EQ(cudaMemcpy(codes.data(), dcodes, codes.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    cudaMemcpy(scales.data(), dscales, rows * 4, cudaMemcpyDeviceToHost);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<int8_t> want(cols);
      float ws = 0;
      if (code == ActCode::kFp8) {
        float absmax = 0;
        for (int64_t j = 0; j < cols; ++j) absmax = std::max(absmax, std::fabs(x[r * cols + j]));
        ws = absmax / kFp8E4M3Max;
        for (int64_t j = 0; j < cols; ++j)
          want[j] = static_cast<int8_t>(FloatToFp8E4M3(ws > 0 ? x[r * cols + j] / ws : 0.0f));
      } else {
        QuantizeActivationRow(&x[r * cols], cols, code == ActCode::kInt8 ? 127 : 7, want.data(), &ws);
      }
      EXPECT_EQ(std::memcmp(&scales[r], &ws, 4), 0) << what << " row " << r << ": scale " << scales[r] << ", want " << ws;
      int bad = 0;
      for (int64_t j = 0; j < ld_codes; ++j) {
        const int8_t w = j < cols ? want[j] : 0;
        if (codes[r * ld_codes + j] != w && bad++ < 3)
          ADD_FAILURE() << what << " row " << r << " column " << j << ": code " << int{codes[r * ld_codes + j]}
                        << ", want " << int{w} << " (x " << (j < cols ? x[r * cols + j] : 0.0f) << ")";
      }
    }
  }
  cudaFree(dx);
  cudaFree(dcodes);
  cudaFree(dscales);
}

struct Shape {
  int64_t out, in;
};
// 40 x 200: neither a multiple of the 16 the tensor-core kernels want;
// 1024 x 2048 and 4096 x 1024: real tiles.
const Shape kShapes[] = {{48, 320}, {40, 200}, {1024, 2048}, {4096, 1024}};
const int64_t kRowCounts[] = {1, 3, 16, 33, 100, 257};

// Integer schemes: exact int32 sums, then the CPU's two multiplications.
TEST_F(ActQuantTest, IntegerProductsAreTheCpusBitForBit) {
  for (const char* name : {"w8a8", "w4a8", "w4a4"})
    for (const Shape& s : kShapes) {
      auto cpu = Must(QuantizeLinear(FormatOf(name), Normal(s.out * s.in, 5 + static_cast<uint32_t>(s.in)), s.out, s.in));
      auto gpu_weights = Must(QuantizeLinear(FormatOf(name), Normal(s.out * s.in, 5 + static_cast<uint32_t>(s.in)), s.out, s.in));
      auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                       std::move(gpu_weights)));
      std::vector<int64_t> row_counts(std::begin(kRowCounts), std::end(kRowCounts));
      if (s.out == 4096) row_counts.push_back(1100);  // 144 tiles: the int8 tensor-core kernel's (int8_gemm.cuh)
      for (int64_t rows : row_counts) {
        const std::string what = absl::StrFormat("%s %dx%d rows %d", name, s.out, s.in, rows);
        const auto x = NormalBf16(rows * s.in, 200 + static_cast<uint32_t>(rows));
        std::vector<float> want(rows * s.out);
        cpu->Forward(x.data(), rows, want.data());
        for (const bool invariant : {true, false}) {
          const auto y = Product(*l, x, rows, DType::kF32, invariant);
          for (int64_t i = 0; i < rows * s.out; ++i) ASSERT_EQ(y[i], want[i]) << what << " at " << i;
        }
        const auto yb = Product(*l, x, rows, DType::kBF16);
        for (int64_t i = 0; i < rows * s.out; ++i) ASSERT_EQ(yb[i], RoundBF16(want[i])) << what << " (bf16) at " << i;
      }
    }
}

// FP8: the products of e4m3 values are exact, but Hopper's fp8 MMA adds
// them with fewer bits than fp32 (about 14 significant bits inside each
// instruction; cuBLASLt promotes to fp32 between them): measured up to
// 1.3e-4 of the sum of |terms| on these shapes, so the bound is 2^-11.
TEST_F(ActQuantTest, Fp8ProductsMatchTheCpuWithinAccumulation) {
  for (const Shape& s : kShapes) {
    const auto w = Normal(s.out * s.in, 9 + static_cast<uint32_t>(s.out));
    auto cpu = Must(QuantizeLinear(FormatOf("fp8"), w, s.out, s.in));
    auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                     Must(QuantizeLinear(FormatOf("fp8"), w, s.out, s.in))));
    std::vector<float> wq(s.out * s.in);
    cpu->Dequantize(wq);
    for (int64_t rows : kRowCounts) {
      const std::string what = absl::StrFormat("fp8 %dx%d rows %d", s.out, s.in, rows);
      const auto x = NormalBf16(rows * s.in, 300 + static_cast<uint32_t>(rows));
      std::vector<float> want(rows * s.out);
      cpu->Forward(x.data(), rows, want.data());
      const auto y = Product(*l, x, rows, DType::kF32);
      double worst = 0;
      for (int64_t m = 0; m < rows; ++m) {
        double absmax = 0;
        for (int64_t k = 0; k < s.in; ++k) absmax = std::max(absmax, std::fabs(double{x[m * s.in + k]}));
        for (int64_t n = 0; n < s.out; ++n) {
          double mag = 0;  // Σ|x·w| bounds the size of every partial sum (codes are within 1/16 of x/scale)
          for (int64_t k = 0; k < s.in; ++k) mag += std::fabs(double{x[m * s.in + k]} * wq[n * s.in + k]);
          worst = std::max(worst, std::fabs(double{y[m * s.out + n]} - want[m * s.out + n]) / (1.2 * mag + 1e-30));
        }
      }
      EXPECT_LT(worst, 1.0 / 2048) << what;
    }
  }
}

// A row's result is the same bits alone, in a batch, at another position.
TEST_F(ActQuantTest, ARowsResultDoesNotDependOnTheBatch) {
  const int64_t out = 1024, in = 4096, rows = 37;
  for (const char* name : {"fp8", "w8a8", "w4a8", "w4a4"}) {
    auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                     Must(QuantizeLinear(FormatOf(name), Normal(out * in, 3), out, in))));
    const auto x = NormalBf16(rows * in, 4);
    const auto all = Product(*l, x, rows, DType::kF32);
    for (int64_t r : {0, 13, 36}) {
      const std::vector<float> one(x.begin() + r * in, x.begin() + (r + 1) * in);
      const auto y1 = Product(*l, one, 1, DType::kF32);
      std::vector<float> many = NormalBf16(512 * in, 5 + static_cast<uint32_t>(r));
      std::copy(one.begin(), one.end(), many.begin() + (511 - r) * in);
      const auto y512 = Product(*l, many, 512, DType::kF32);
      for (int64_t n = 0; n < out; ++n) {
        ASSERT_EQ(y1[n], all[r * out + n]) << name << " row " << r << " alone vs in 37, column " << n;
        ASSERT_EQ(y512[(511 - r) * out + n], all[r * out + n]) << name << " row " << r << " among 512, column " << n;
      }
    }
  }
}

// The layers take their codes' bytes: 4-bit weights two per byte.
TEST_F(ActQuantTest, LayersTakeTheirCodesBytes) {
  const int64_t out = 4096, in = 4096;
  for (const auto& [name, bits] : {std::pair{"w8a8", 8}, std::pair{"w4a8", 4}, std::pair{"fp8", 8}}) {
    const int64_t before = gpu_->WeightBytes();
    auto l = Must(gpu_->CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                     Must(QuantizeLinear(FormatOf(name), Normal(out * in, 9), out, in))));
    EXPECT_NEAR(static_cast<double>(gpu_->WeightBytes() - before), out * in * bits / 8.0 + out * 4, 512) << name;
    l.reset();
    EXPECT_EQ(gpu_->WeightBytes(), before) << name;
  }
}

}  // namespace
}  // namespace qsweep
