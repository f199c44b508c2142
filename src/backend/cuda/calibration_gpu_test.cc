// Calibration on the GPU (cuda_calibration.h) against the host's: the
// Hessian sums against HessianAccumulator, GPTQ against GptqQuantize on
// random layers with correlated inputs and dead columns. Runs on the GPU
// machine.
#include "backend/cuda/cuda_calibration.h"

#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "model/tiny_calibration_for_test.h"
#include "core/dtype.h"
#include "quant/bit_packing.h"
#include "quant/gptq_layers_for_test.h"
#include "quant/quantized_weights.h"
#include "quant/scheme.h"
#include "scheme_for_test.h"

namespace qsweep {
namespace {

bool HasGpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

TEST(CalibrationGpuTest, HessianSumsEqualTheHostsInFp32AndBf16) {
  if (!HasGpu()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  auto backend = CudaBackend::Create(0);
  ASSERT_TRUE(backend.ok()) << backend.status();
  CudaBackend& b = **backend;
  const int64_t in = 200, n = 777;
  for (bool bf16 : {false, true}) {
    std::vector<float> x = Inputs(n, in, 21, {7});
    if (bf16)
      for (float& v : x) v = RoundBF16(v);
    HessianAccumulator host(in);
    auto sum = b.CreateHessianSum(in);
    ASSERT_TRUE(sum.ok()) << sum.status();
    // Batches of uneven sizes, as the calibration's batches come.
    for (int64_t r0 = 0; r0 < n;) {
      const int64_t rows = std::min<int64_t>(n - r0, 100 + r0 % 37);
      auto a = bf16 ? b.AllocAs(rows, in, DType::kBF16) : b.AllocAs(rows, in, DType::kF32);
      ASSERT_TRUE(a.ok()) << a.status();
      b.UploadTo(std::span<const float>(x.data() + r0 * in, rows * in), *a);
      (*sum)->Add(*a);
      host.Add(x.data() + r0 * in, rows);
      b.Free(*a);
      r0 += rows;
    }
    EXPECT_EQ((*sum)->tokens(), n);
    const std::vector<float> got = (*sum)->Hessian(), want = host.Hessian();
    float scale = 0;
    for (float v : want) scale = std::max(scale, std::fabs(v));
    double worst = 0;
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) {
        EXPECT_EQ(got[i * in + j], got[j * in + i]);
        worst = std::max(worst, std::fabs(double(got[i * in + j]) - want[i * in + j]) / scale);
      }
    EXPECT_LT(worst, 1e-5) << (bf16 ? "bf16" : "fp32") << " inputs";
    EXPECT_EQ(got[7 * in + 7], 0.0f);  // a dead input stays exactly zero
  }
}

struct Case {
  const char* scheme;
  bool act_order, static_groups;
  bool on_device;  // GptqRunsOnDevice
};

class GptqGpuVsHost : public ::testing::TestWithParam<Case> {};

// The device runs in fp32 where the host runs in double: a code may differ
// where a value lies within rounding of a step. What must hold: nearly all
// codes and scales equal, and the output error as low as the host's.
TEST_P(GptqGpuVsHost, NearlyTheSameCodesAndTheSameOutputError) {
  if (!HasGpu()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  const Case c = GetParam();
  auto backend = CudaBackend::Create(0);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const WeightFormat f = Format(c.scheme);
  const GptqOptions opt{.act_order = c.act_order, .static_groups = c.static_groups};
  EXPECT_EQ(GptqRunsOnDevice(f, opt), c.on_device) << c.scheme;
  // 3 blocks and a part (the last block short), rows not a multiple of 8.
  const int64_t out = 75, in = 448, n = 1200;
  const std::vector<int64_t> dead = {5, 300};
  const std::vector<float> w = Weights(out, in, 31), x = Inputs(n, in, 32, dead), h = HessianOf(x, n, in);
  auto host = GptqQuantize(f, w, out, in, h, opt, "t.weight");
  ASSERT_TRUE(host.ok()) << host.status();
  auto dev = (*backend)->Gptq(f, w, out, in, h, opt, "t.weight");
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->dead_columns, 2);
  EXPECT_EQ(dev->damp_used, host->damp_used);
  const std::vector<uint8_t> hc = UnpackCodes(host->weights.codes, out, in, f.bits),
                             dc = UnpackCodes(dev->weights.codes, out, in, f.bits);
  int64_t same = 0;
  for (int64_t i = 0; i < out * in; ++i) same += hc[i] == dc[i];
  EXPECT_GE(same, out * in * 995 / 1000) << same << " of " << out * in << " codes equal";
  int64_t same_scales = 0;
  for (size_t i = 0; i < host->weights.scales.size(); ++i)
    same_scales += host->weights.scales[i] == dev->weights.scales[i];
  EXPECT_GE(same_scales, static_cast<int64_t>(host->weights.scales.size()) * 98 / 100);
  std::vector<float> hd(out * in), dd(out * in), rtn(out * in);
  DequantizeWeights(host->weights, hd);
  DequantizeWeights(dev->weights, dd);
  DequantizeWeights(QuantizeWeights(f, w, out, in), rtn);
  for (int64_t d : dead)
    for (int64_t r = 0; r < out; ++r) EXPECT_EQ(dd[r * in + d], 0.0f);
  const double e_host = OutputError(w, hd, out, in, h), e_dev = OutputError(w, dd, out, in, h),
               e_rtn = OutputError(w, rtn, out, in, h);
  EXPECT_LT(e_dev, e_host * 1.01) << c.scheme;
  EXPECT_LT(e_dev, e_rtn) << c.scheme;
  if (!c.on_device) {
    EXPECT_EQ(dc, hc) << "the host's GPTQ, called from the backend";
  }
  // Repeatable bit for bit.
  auto again = (*backend)->Gptq(f, w, out, in, h, opt, "t.weight");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->weights.codes, dev->weights.codes);
  EXPECT_EQ(again->weights.scales, dev->weights.scales);
  EXPECT_EQ(again->weights.zeros, dev->weights.zeros);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GptqGpuVsHost,
    ::testing::Values(Case{"w4a16-g128", false, false, true}, Case{"w4a16-g128", true, true, true},
                      Case{"w3a16-g32-asym", false, false, true}, Case{"w3a16-g64-asym", true, true, true},
                      Case{"w4a16", false, false, true}, Case{"w8a16-asym", true, false, true},
                      Case{"w2a16-g256", false, false, true}, Case{"w4a16-g128-asym", false, false, true},
                      Case{"w8a8", false, false, true}, Case{"w4a16-g128", true, false, false}));

TEST(CalibrationGpuTest, GptqOfASingularHessianNamesTheTensor) {
  if (!HasGpu()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  auto backend = CudaBackend::Create(0);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const WeightFormat f = Format("w4a16-g32");
  const int64_t out = 8, in = 64;
  const std::vector<float> w = Weights(out, in, 1);
  // Indefinite (eigenvalues 1 ± 1000 on two columns), then NaN on the diagonal.
  std::vector<float> h(in * in, 0.0f);
  for (int64_t i = 0; i < in; ++i) h[i * in + i] = 1;
  h[1] = h[in] = 1000;
  auto r = (*backend)->Gptq(f, w, out, in, h, {}, "model.layers.3.mlp.down_proj.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("model.layers.3.mlp.down_proj.weight: the Hessian [64, 64] is not positive"),
            std::string::npos)
      << r.status();
  h[1] = h[in] = 0;
  h[5 * in + 5] = NAN;
  r = (*backend)->Gptq(f, w, out, in, h, {}, "x.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("x.weight: the Hessian"), std::string::npos) << r.status();
}

// Log-probs of held-out text through a scheme loaded (and calibrated) on
// `backend`.
std::vector<float> HeldOutLogProbs(Backend* backend, const std::string& scheme, const CalibrationSet* calib,
                                   CalibrationReport* report = nullptr) {
  auto ckpt = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  auto d = Decoder::Load(**ckpt, backend, {.scheme = TestScheme(scheme), .max_batch_tokens = 1024, .calibration = calib});
  EXPECT_TRUE(d.ok()) << scheme << ": " << d.status();
  if (!d.ok()) return {};
  if (report) *report = (*d)->calibration_report();
  TokenBatch batch;
  for (const auto& s : Windows("tiny/tasks/heldout.txt", 8, 128)) batch.AddSequence(s);
  std::vector<int64_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> targets(batch.tokens.begin(), batch.tokens.end());
  std::vector<LogitStats> stats;
  EXPECT_TRUE((*d)->Forward(batch, rows, targets, 4, true, &stats).ok());
  return CombineLogitStats(stats, 4, true).logprobs;
}

double RelativeL2(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, r = 0;
  for (size_t i = 0; i < a.size(); ++i) e += std::pow(double{a[i]} - b[i], 2), r += std::pow(double{b[i]}, 2);
  return std::sqrt(e / r);
}

// The tiny model calibrated on the GPU (Hessians on the device; GPTQ on it,
// or on the host for act-order; AWQ's searches and SmoothQuant's
// statistics on it). The GPU runs the model in bf16 and the CPU
// in fp32, and calibration picks codes from the inputs it sees, so the two
// calibrated models differ more than two round-to-nearest ones (measured on
// H200: 1.5e-2 to 4.2e-2 relative L2 of the log-probs, against 1e-2 or less
// for round to nearest). What must hold: the first layer's Hessians agree
// (its inputs differ by bf16 rounding only), the same damping everywhere,
// and the GPU's calibrated model as close to the fp32 model as the CPU's,
// up to the distance the bf16 forward alone adds, and closer than round to
// nearest on the GPU.
TEST(CalibrationGpuTest, CalibratedTinyModelIsAsCloseToFp32AsOnTheCpu) {
  if (!HasGpu()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  auto gpu = CudaBackend::Create(0);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  CpuBackend cpu;
  const CalibrationSet calib = TinyCalibration();
  const std::vector<float> ref = HeldOutLogProbs(&cpu, "fp32", nullptr);
  for (const char* scheme :
       {"w4a16-g128-gptq", "w3a16-g64-gptq", "w3a16-g128-gptq-act", "w4a16-g128-awq", "w3a16-g64-awq", "w8a8-sq0.5"}) {
    CalibrationReport rc, rg;
    const std::vector<float> c = HeldOutLogProbs(&cpu, scheme, &calib, &rc),
                             g = HeldOutLogProbs(gpu->get(), scheme, &calib, &rg);
    ASSERT_EQ(c.size(), g.size());
    ASSERT_EQ(rc.tensors.size(), rg.tensors.size());
    for (size_t t = 0; t < rc.tensors.size(); ++t) {
      EXPECT_EQ(rg.tensors[t].name, rc.tensors[t].name);
      EXPECT_EQ(rg.tensors[t].damp_used, rc.tensors[t].damp_used) << rc.tensors[t].name;
      if (rc.tensors[t].name.starts_with("model.layers.0.self_attn.")) {
        EXPECT_NEAR(rg.tensors[t].hessian_trace, rc.tensors[t].hessian_trace, 2e-2 * rc.tensors[t].hessian_trace)
            << rc.tensors[t].name;
      }
    }
    const std::string name = scheme;
    const bool sq = name.find("-sq") != std::string::npos;
    const std::string rtn = name.substr(0, name.find(sq ? "-sq" : name.find("-gptq") != std::string::npos ? "-gptq" : "-awq"));
    const std::vector<float> rtn_gpu = HeldOutLogProbs(gpu->get(), rtn, nullptr),
                             rtn_cpu = HeldOutLogProbs(&cpu, rtn, nullptr);
    const double gpu_to_ref = RelativeL2(g, ref), cpu_to_ref = RelativeL2(c, ref);
    const double bf16_noise = RelativeL2(rtn_gpu, rtn_cpu), rtn_to_ref = RelativeL2(rtn_gpu, ref);
    EXPECT_LE(gpu_to_ref, 1.1 * cpu_to_ref + bf16_noise) << scheme;
    if (!sq) {  // SmoothQuant helps W8A8 little here
      EXPECT_LT(gpu_to_ref, rtn_to_ref) << scheme << " against " << rtn;
    }
    std::printf("%-20s to fp32: GPU %.3e, CPU %.3e (%s on the GPU %.3e; its GPU vs CPU %.2e); GPU vs CPU %.2e\n",
                scheme, gpu_to_ref, cpu_to_ref, rtn.c_str(), rtn_to_ref, bf16_noise, RelativeL2(g, c));
  }
}
}  // namespace
}  // namespace qsweep
