// The int8 tensor-core gemm (kernels/int8_gemm.cuh) against a plain CPU
// reference: random codes over the whole int8 range, random scales, shapes
// whose rows, outputs and k are not multiples of the tiles, every output
// form; the results must be the reference's bits, and nothing outside the
// product may be written. Runs on the GPU machine; skipped where there is
// no GPU.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "int8_gemm.cuh"

namespace qsweep {
namespace {

struct Case {
  int64_t rows, n, n_padded, k;
};

// float(Σ x·w) · x_scale · w_scale, in that order (the CPU reference's).
std::vector<float> Reference(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const std::vector<float>& xs,
                             const std::vector<float>& ws, const Case& c) {
  std::vector<float> y(c.rows * c.n);
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t j = 0; j < c.n; ++j) {
      int32_t acc = 0;
      for (int64_t i = 0; i < c.k; ++i) acc += int32_t{x[r * c.k + i]} * int32_t{w[j * c.k + i]};
      const float a = static_cast<float>(acc) * xs[r];
      y[r * c.n + j] = a * ws[j];
    }
  return y;
}

class Int8GemmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) GTEST_SKIP() << "no GPU here";
  }
};

TEST_F(Int8GemmTest, IsTheCpuReferenceBitForBit) {
  const Case cases[] = {{128, 256, 256, 128},  {129, 40, 48, 208},     {300, 520, 528, 1040},
                        {1000, 1024, 1024, 4096}, {2048, 768, 768, 2048}, {257, 4096, 4096, 512}};
  std::mt19937 rng(7);
  for (const Case& c : cases) {
    std::uniform_int_distribution<int> code(-128, 127);
    std::uniform_real_distribution<float> scale(1e-4f, 1e-1f);
    std::vector<int8_t> x(c.rows * c.k), w(c.n_padded * c.k, 0);
    for (auto& v : x) v = static_cast<int8_t>(code(rng));
    for (int64_t i = 0; i < c.n * c.k; ++i) w[i] = static_cast<int8_t>(code(rng));
    // The largest sums: a row and a column of -128 only.
    std::fill(x.begin(), x.begin() + c.k, int8_t{-128});
    std::fill(w.begin(), w.begin() + c.k, int8_t{-128});
    std::vector<float> xs(c.rows), ws(c.n_padded, 0.0f);
    for (auto& v : xs) v = scale(rng);
    for (int64_t j = 0; j < c.n; ++j) ws[j] = scale(rng);
    const std::vector<float> want = Reference(x, w, xs, ws, c);

    const int64_t ldy = c.n + 6;  // columns past n must stay as they were
    void *dx, *dw, *dxs, *dws, *dy;
    ASSERT_EQ(cudaMalloc(&dx, x.size()), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size()), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dxs, xs.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dws, ws.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, (c.rows + 1) * ldy * 4), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size(), cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice);
    cudaMemcpy(dxs, xs.data(), xs.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dws, ws.data(), ws.size() * 4, cudaMemcpyHostToDevice);
    std::vector<float> before((c.rows + 1) * ldy);
    std::normal_distribution<float> normal;
    for (auto& v : before) v = RoundBF16(normal(rng));
    for (const kernels::ScaledOut out :
         {kernels::ScaledOut::kF32, kernels::ScaledOut::kBf16, kernels::ScaledOut::kAddF32}) {
      const bool bf16 = out == kernels::ScaledOut::kBf16;
      const std::string what = absl::StrFormat("rows %d, n %d (padded %d), k %d, %s", c.rows, c.n, c.n_padded, c.k,
                                               bf16 ? "bf16" : out == kernels::ScaledOut::kF32 ? "fp32" : "fp32 +=");
      std::vector<uint16_t> before16(before.size());
      for (size_t i = 0; i < before.size(); ++i) before16[i] = FloatToBF16(before[i]);
      if (bf16)
        cudaMemcpy(dy, before16.data(), before16.size() * 2, cudaMemcpyHostToDevice);
      else
        cudaMemcpy(dy, before.data(), before.size() * 4, cudaMemcpyHostToDevice);
      kernels::Int8Gemm(static_cast<int8_t*>(dx), c.rows, static_cast<int8_t*>(dw), c.n, c.n_padded, c.k,
                        static_cast<float*>(dxs), static_cast<float*>(dws), dy, ldy, out, 0);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << what;
      std::vector<float> got(before.size());
      if (bf16) {
        std::vector<uint16_t> g(before.size());
        cudaMemcpy(g.data(), dy, g.size() * 2, cudaMemcpyDeviceToHost);
        for (size_t i = 0; i < g.size(); ++i) got[i] = BF16ToFloat(g[i]);
      } else {
        cudaMemcpy(got.data(), dy, got.size() * 4, cudaMemcpyDeviceToHost);
      }
      int bad = 0;
      for (int64_t r = 0; r <= c.rows; ++r)
        for (int64_t j = 0; j < ldy; ++j) {
          const int64_t i = r * ldy + j;
          const float old = bf16 ? BF16ToFloat(before16[i]) : before[i];
          float expect = old;
          if (r < c.rows && j < c.n) {
            const float v = want[r * c.n + j];
            expect = bf16 ? RoundBF16(v) : out == kernels::ScaledOut::kAddF32 ? old + v : v;
          }
          if (std::memcmp(&got[i], &expect, 4) != 0 && bad++ < 5)
            ADD_FAILURE() << what << ": y[" << r << ", " << j << "] = " << got[i] << ", want " << expect;
        }
      EXPECT_EQ(bad, 0) << what;
    }
    for (void* p : {dx, dw, dxs, dws, dy}) cudaFree(p);
  }
}

}  // namespace
}  // namespace qsweep
