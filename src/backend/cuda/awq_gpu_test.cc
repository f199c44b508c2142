// AWQ's and SmoothQuant's device steps (kernels/awq.cuh, the AWQ transforms
// of kernels/lowbit/lowbit_quantize.cuh) against their host references in
// quant/awq.h, quant/smoothquant.h and the CPU backend, on random inputs
// with outlier channels. Runs on the GPU machine.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_linear.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/gpu_linear_for_test.h"
#include "core/dtype.h"
#include "quant/awq.h"
#include "quant/mma_tiled_weights.h"
#include "quant/quantized_weights.h"
#include "quant/smoothquant.h"
#include "random_for_test.h"
#include "scheme_for_test.h"

namespace qsweep {
namespace {

class AwqGpuTest : public GpuLinearTest {
 protected:
  // bf16 values with a few channels 20 times larger, as activations have.
  static std::vector<float> Activations(int64_t rows, int64_t cols, uint32_t seed) {
    std::vector<float> x = Normal(rows * cols, seed);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 3; j < cols; j += 37) x[r * cols + j] *= 20.0f;
    for (float& v : x) v = RoundBF16(v);
    return x;
  }
  Act Upload(const std::vector<float>& x, int64_t rows, int64_t cols, DType t) {
    Act a = Must(gpu_->AllocAs(rows, cols, t));
    gpu_->UploadTo(x, a);
    return a;
  }
  std::vector<std::unique_ptr<Linear>> DenseParts(const std::vector<float>& w, int64_t out, int64_t in,
                                                  int64_t parts) {
    const int64_t width = in / parts;
    std::vector<std::unique_ptr<PackedLinear>> dense;
    for (int64_t p = 0; p < parts; ++p) {
      std::vector<float> v(out * width);
      for (int64_t r = 0; r < out; ++r) std::copy_n(w.begin() + r * in + p * width, width, v.begin() + r * width);
      dense.push_back(Must(QuantizeLinear(WeightFormat::Dense(16), std::move(v), out, width)));
    }
    return Must(gpu_->CreateLinearParts("model.layers.0.mlp.down_proj.weight", std::move(dense)));
  }
  // Positive scales spread over two orders of magnitude, as AwqScales makes.
  static std::vector<float> Scales(int64_t in, uint32_t seed) {
    std::vector<float> mean_abs(in);
    const std::vector<float> u = Normal(in, seed);
    for (int64_t j = 0; j < in; ++j) mean_abs[j] = std::exp(1.5f * u[j]);
    return AwqScales(mean_abs, 0.55);
  }
};

TEST_F(AwqGpuTest, ColumnStatisticsEqualTheHosts) {
  for (DType t : {DType::kBF16, DType::kF32}) {
    const int64_t in = 300;
    auto stats = Must(gpu_->CreateColumnAbsStats(in));
    ActMeanAbs mean(in);
    ActAbsMax max(in);
    for (int64_t rows : {1, 700, 9000}) {  // the last in two of the device's slices
      const std::vector<float> x = Activations(rows, in, static_cast<uint32_t>(rows));
      Act a = Upload(x, rows, in, t);
      stats->Add(a);
      gpu_->Free(a);
      mean.Add(x.data(), rows);
      max.Add(x.data(), rows);
    }
    const std::vector<float> got_mean = stats->MeanAbs(), got_max = stats->AbsMax();
    const std::vector<float> want_mean = mean.values(), want_max = max.values();
    for (int64_t j = 0; j < in; ++j) {
      EXPECT_EQ(got_max[j], want_max[j]) << j;
      EXPECT_NEAR(got_mean[j], want_mean[j], 1e-6 * want_mean[j]) << j;
    }
  }
}

TEST_F(AwqGpuTest, SquaredErrorEqualsTheHosts) {
  const int64_t rows = 513, cols = 1000;
  const std::vector<float> x = Activations(rows, cols, 1), y = Activations(rows, cols, 2);
  Act a = Upload(x, rows, cols, DType::kBF16), b = Upload(y, rows, cols, DType::kF32);
  double want = 0;
  for (size_t i = 0; i < x.size(); ++i) want += std::pow(double(x[i]) - y[i], 2);
  const double got = gpu_->SquaredError(a, b);
  EXPECT_NEAR(got, want, 1e-12 * want);
  EXPECT_EQ(gpu_->SquaredError(a, a), 0.0);
  CpuBackend cpu;
  Act ca = Must(cpu.Alloc(rows, cols)), cb = Must(cpu.Alloc(rows, cols));
  cpu.UploadTo(x, ca);
  cpu.UploadTo(y, cb);
  EXPECT_EQ(cpu.SquaredError(ca, cb), want);
  cpu.Free(ca);
  cpu.Free(cb);
  gpu_->Free(a);
  gpu_->Free(b);
}

// The candidate is QuantizeScaledForSearch's values rounded to bf16, bit
// for bit (the grids of W·s are the host's operations).
TEST_F(AwqGpuTest, CandidateEqualsQuantizeScaledForSearch) {
  for (const char* name : {"w4a16-g128", "w3a16-g64-asym", "w2a16-g32", "w8a16-g128"})
    for (auto [out, in] : {std::pair<int64_t, int64_t>{96, 512}, {40, 200}}) {
      const WeightFormat f = FormatOf(name);
      ASSERT_TRUE(gpu_->AwqOnDevice(f)) << name;
      const std::vector<float> w = NormalBf16(out * in, 5), s = Scales(in, 6);
      auto dense = DenseParts(w, out, in, 1);
      auto cand = Must(gpu_->AwqCandidate("model.layers.0.mlp.up_proj.weight", *dense[0], f, s));
      const std::vector<float> want = QuantizeScaledForSearch(f, w, out, in, s);
      // The candidate's values: its product with the identity.
      std::vector<float> eye(in * in, 0.0f);
      for (int64_t j = 0; j < in; ++j) eye[j * in + j] = 1.0f;
      const std::vector<float> got = Product(*cand, eye, in, DType::kF32);  // [in, out]
      int64_t bad = 0;
      for (int64_t r = 0; r < out; ++r)
        for (int64_t j = 0; j < in; ++j)
          if (got[j * out + r] != RoundBF16(want[r * in + j]) && bad++ < 3)
            ADD_FAILURE() << absl::StrFormat("%s [%d, %d] (%d, %d): %g, want %g", name, out, in, r, j,
                                             got[j * out + r], RoundBF16(want[r * in + j]));
      EXPECT_EQ(bad, 0) << name;
    }
}

// AwqClip's objective for one (row, group) at one kept max, as the host
// computes it, for judging where the device chose otherwise.
double ClipError(const WeightFormat& f, const float* w, int64_t n, const std::vector<float>& x, int64_t in,
                 int64_t k0, float max_val) {
  std::vector<float> cur(n);
  for (int64_t k = 0; k < n; ++k) cur[k] = std::clamp(w[k], -max_val, max_val);
  const IntGrid grid = IntGroupGrid(f, cur.data(), n);
  for (int64_t k = 0; k < n; ++k) cur[k] = IntCodeValue(f, grid, IntCode(f, grid, cur[k]));
  double err = 0;
  for (size_t t = 0; t < x.size() / in; ++t) {
    double a = 0, b = 0;
    for (int64_t k = 0; k < n; ++k) {
      a += double(x[t * in + k0 + k]) * cur[k];
      b += double(x[t * in + k0 + k]) * w[k];
    }
    err += (a - b) * (a - b);
  }
  return err;
}

// The device's kept max per (row, group) is AwqClip's, or one whose error
// equals the host's choice's to rounding; parts that cut on groups and a
// last group shorter than the rest included.
TEST_F(AwqGpuTest, ClipSearchChoosesAsAwqClip) {
  struct Case {
    const char* format;
    int64_t out, in, parts, rows;
  };
  for (const Case& c : {Case{"w4a16-g128", 64, 512, 1, 512}, Case{"w3a16-g64-asym", 48, 1024, 4, 300},
                        Case{"w4a16-g128", 33, 200, 1, 70}, Case{"w2a16-g32", 40, 256, 2, 512}}) {
    const WeightFormat f = FormatOf(c.format);
    const std::string what = absl::StrFormat("%s [%d, %d] in %d parts, %d rows", c.format, c.out, c.in, c.parts, c.rows);
    const std::vector<float> w = NormalBf16(c.out * c.in, 7), s = Scales(c.in, 8);
    const std::vector<float> x = Activations(c.rows, c.in, 9);
    auto dense = DenseParts(w, c.out, c.in, c.parts);
    Act xa = Upload(x, c.rows, c.in, DType::kBF16);
    const std::vector<float> got =
        Must(gpu_->AwqClipSearch("model.layers.0.mlp.down_proj.weight", dense, f, s, xa, 20, 0.5));
    gpu_->Free(xa);
    std::vector<float> ws = w, xs = x;
    ScaleColumns(ws, s);
    for (int64_t t = 0; t < c.rows; ++t)
      for (int64_t j = 0; j < c.in; ++j) xs[t * c.in + j] /= s[j];
    std::vector<float> clipped = ws;
    const std::vector<float> want = AwqClip(f, clipped, c.out, c.in, xs.data(), c.rows);
    ASSERT_EQ(got.size(), want.size()) << what;
    const int64_t g0 = std::min<int64_t>(f.group, c.in), groups = (c.in + g0 - 1) / g0;
    int64_t same = 0;
    for (int64_t r = 0; r < c.out; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t i = r * groups + g;
        if (got[i] == want[i]) {
          ++same;
          continue;
        }
        const int64_t k0 = g * g0, n = std::min(g0, c.in - k0);
        const double eg = ClipError(f, ws.data() + r * c.in + k0, n, xs, c.in, k0, got[i]);
        const double eh = ClipError(f, ws.data() + r * c.in + k0, n, xs, c.in, k0, want[i]);
        EXPECT_NEAR(eg, eh, 1e-9 * eh) << what << " row " << r << " group " << g << ": " << got[i] << ", want "
                                       << want[i];
      }
    EXPECT_GE(same, static_cast<int64_t>(0.98 * got.size())) << what;
    std::printf("%s: %lld of %zu choices equal the host's\n", what.c_str(), static_cast<long long>(same), got.size());
  }
}

// Round to nearest of clamp(W·s, ±clip) on the device equals the CPU
// backend's of the same transform, codes and scales bit for bit.
TEST_F(AwqGpuTest, TransformedQuantizationEqualsTheCpus) {
  CpuBackend cpu;
  const int64_t out = 48, in = 1024;
  for (int64_t parts : {1, 4}) {
    const WeightFormat f = FormatOf("w4a16-g128");
    const std::vector<float> w = NormalBf16(out * in, 11), s = Scales(in, 12);
    std::vector<float> clip(out * (in / 128));
    const std::vector<float> u = Normal(clip.size(), 13);
    for (size_t i = 0; i < clip.size(); ++i) clip[i] = 1.0f + 0.5f * std::fabs(u[i]);
    AwqTransform t;
    t.column_scales = s;
    t.clip = clip;
    auto gpu_layers = Must(gpu_->QuantizeLinearParts("model.layers.0.mlp.down_proj.weight", LinearRole::kProjection,
                                                     DenseParts(w, out, in, parts), f, t));
    std::vector<std::unique_ptr<PackedLinear>> cpu_dense;
    const int64_t width = in / parts;
    for (int64_t p = 0; p < parts; ++p) {
      std::vector<float> v(out * width);
      for (int64_t r = 0; r < out; ++r) std::copy_n(w.begin() + r * in + p * width, width, v.begin() + r * width);
      cpu_dense.push_back(Must(QuantizeLinear(WeightFormat::Dense(16), std::move(v), out, width)));
    }
    auto cpu_parts = Must(cpu.CreateLinearParts("model.layers.0.mlp.down_proj.weight", std::move(cpu_dense)));
    auto cpu_layers = Must(cpu.QuantizeLinearParts("model.layers.0.mlp.down_proj.weight", LinearRole::kProjection,
                                                   cpu_parts, f, t));
    ASSERT_EQ(gpu_layers.size(), cpu_layers.size());
    // The CPU's reference is the host quantizer of the transformed whole.
    std::vector<float> transformed = w;
    ScaleColumns(transformed, s);
    for (int64_t r = 0; r < out; ++r)
      for (int64_t j = 0; j < in; ++j)
        transformed[r * in + j] = std::clamp(transformed[r * in + j], -clip[r * (in / 128) + j / 128],
                                             clip[r * (in / 128) + j / 128]);
    const QuantizedWeights whole = QuantizeWeights(f, transformed, out, in);
    for (size_t p = 0; p < gpu_layers.size(); ++p) {
      const QuantizedWeights* cq = static_cast<const CpuLinear&>(*cpu_layers[p]).packed()->quantized_weights();
      ASSERT_NE(cq, nullptr);
      const QuantizedWeights want_q = parts == 1 ? whole : SliceQuantizedColumns(whole, p * width, (p + 1) * width);
      EXPECT_EQ(cq->codes, want_q.codes) << "CPU part " << p << " of " << parts;
      EXPECT_EQ(cq->scales, want_q.scales) << "CPU part " << p << " of " << parts;
      const MmaTiledWeights want = TileForMma(want_q);
      const auto got = gpu_->DownloadTiled(*gpu_layers[p]);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->codes, want.codes) << "GPU part " << p << " of " << parts;
      EXPECT_EQ(got->scales, want.scales) << "GPU part " << p << " of " << parts;
    }
  }
}

}  // namespace
}  // namespace qsweep
