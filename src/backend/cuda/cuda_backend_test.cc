// The GPU backend against the CPU reference: every operation on random
// inputs, then whole forwards against HF's golden log-probs and the CPU.
// Runs on the GPU machine; skipped (loudly) where there is no GPU.
#include "backend/cuda/cuda_backend.h"

#include <bit>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference_ops.h"
#include "attention.cuh"
#include "attention_bf16.cuh"
#include "pair_logit_stats.cuh"
#include "rank_sum.cuh"
#include "model/decoder.h"
#include "model/fixed_sequence_for_test.h"
#include "model/held_weights.h"
#include "model/synthetic_checkpoint.h"
#include "model/row_scores.h"
#include "quant/tensor_quantizer.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = CudaBackend::Create();
    if (!b.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine (" << b.status() << ")";
    gpu_ = std::move(*b);
  }
  // Test buffers and arrays: failing to make one is a broken test machine.
  template <typename T>
  static T Must(absl::StatusOr<T> v) {
    QSWEEP_CHECK(v.ok());
    return *std::move(v);
  }
  Act CpuAct(int64_t rows, int64_t cols) { return Must(cpu_.Alloc(rows, cols)); }
  Act GpuAct(int64_t rows, int64_t cols, bool bf16 = false) {
    return Must(gpu_->AllocAs(rows, cols, bf16 ? DType::kBF16 : DType::kF32));
  }
  // The layer of `w` under `scheme`, quantized as the decoder does; the
  // backend computes in the scheme's precision.
  absl::StatusOr<std::unique_ptr<Linear>> MakeLinear(Backend& b, const std::string& name, const std::string& scheme,
                                                     const std::vector<float>& w, int64_t out, int64_t in) {
    const SchemeSpec spec = TestScheme(scheme);
    b.SetModelPrecision(UnquantizedPrecision(spec));
    QSWEEP_ASSIGN_OR_RETURN(auto q, QuantizeTensor(spec, name, w, out, in));
    return b.CreateLinear(name, LinearRole::kProjection, std::move(q));
  }
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> MakeParts(Backend& b, const std::string& name,
                                                                 const std::string& scheme, const std::vector<float>& w,
                                                                 int64_t out, int64_t in, int64_t count) {
    const SchemeSpec spec = TestScheme(scheme);
    b.SetModelPrecision(UnquantizedPrecision(spec));
    auto columns = [&](int64_t begin, int64_t end) -> absl::StatusOr<std::vector<float>> {
      std::vector<float> c;
      for (int64_t r = 0; r < out; ++r) c.insert(c.end(), w.begin() + r * in + begin, w.begin() + r * in + end);
      return c;
    };
    QSWEEP_ASSIGN_OR_RETURN(auto q, QuantizeRowParallelParts(spec, name, out, in, 0, count, count, columns));
    return b.CreateLinearParts(name, std::move(q));
  }
  std::vector<float> Random(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
  }
  // A pair of activations with the same values on both backends.
  std::pair<Act, Act> Both(const std::vector<float>& v, int64_t rows, int64_t cols) {
    Act c = CpuAct(rows, cols), g = GpuAct(rows, cols);
    std::copy(v.begin(), v.end(), static_cast<float*>(c.data));
    gpu_->UploadTo(v, g);
    return {c, g};
  }
  void ExpectClose(const Act& c, const Act& g, float rtol, float atol, const char* what) {
    const auto h = gpu_->Download(g);
    const float* r = static_cast<const float*>(c.data);
    for (size_t i = 0; i < h.size(); ++i)
      ASSERT_NEAR(h[i], r[i], atol + rtol * std::fabs(r[i])) << what << " at " << i;
  }
  // Rounds a CPU activation to bf16 in place; returns a bf16 GPU copy.
  Act RoundedBf16Copy(Act& c) {
    float* v = static_cast<float*>(c.data);
    for (int64_t i = 0; i < c.rows * c.cols; ++i) v[i] = RoundBF16(v[i]);
    Act g = GpuAct(c.rows, c.cols, true);
    gpu_->UploadTo(std::span<const float>(v, c.rows * c.cols), g);
    return g;
  }
  // GPU attention over bf16 activations against the reference on the same
  // (rounded) values; the layout is set on both backends.
  void ExpectBf16AttentionClose(Act& qc, Act& kc, Act& vc, int64_t hd, Act& oc) {
    Act qb = RoundedBf16Copy(qc), kb = RoundedBf16Copy(kc), vb = RoundedBf16Copy(vc);
    Act ob = GpuAct(oc.rows, oc.cols, true);
    ASSERT_EQ(cudaMemset(ob.data, 0xff, ob.rows * ob.cols * 2), cudaSuccess);  // NaN until written
    cpu_.Attention(qc, kc, vc, hd, oc);
    gpu_->Attention(qb, kb, vb, hd, ob);
    const std::string what = (hd == 64 || hd == 128 ? "wgmma" : hd == 32 ? "mma.sync" : "tiled bf16") +
                             std::string(" attention, hd ") + std::to_string(hd);
    ExpectClose(oc, ob, 1e-2f, 1.5e-2f, what.c_str());
    // The mma.sync kernel where the backend prefers wgmma.
    const auto [sb, pe, bb] = gpu_->LayoutOnDevice();
    if (hd == 64 || hd == 128) {
      ASSERT_EQ(cudaMemset(ob.data, 0xff, ob.rows * ob.cols * 2), cudaSuccess);  // NaN until written
      ASSERT_TRUE(kernels::AttentionBf16(static_cast<__nv_bfloat16*>(qb.data), static_cast<__nv_bfloat16*>(kb.data),
                                         static_cast<__nv_bfloat16*>(vb.data), qb.rows, gpu_->QueryBlocksOnDevice(), sb, pe, bb,
                                         qb.cols / hd, kb.cols / hd,
                                         hd, static_cast<__nv_bfloat16*>(ob.data), 0));
      ExpectClose(oc, ob, 1e-2f, 1.5e-2f, ("mma.sync attention, hd " + std::to_string(hd)).c_str());
    }
    for (Act* a : {&qb, &kb, &vb, &ob}) gpu_->Free(*a);
  }
  CpuBackend cpu_;
  std::unique_ptr<CudaBackend> gpu_;
};

TEST_F(CudaTest, ElementwiseAndNormKernelsMatchTheReference) {
  const int64_t rows = 37, cols = 96;
  const auto xv = Random(rows * cols, 1), wv = Random(cols, 2), yv = Random(rows * cols, 3);
  auto [xc, xg] = Both(xv, rows, cols);
  auto [yc, yg] = Both(yv, rows, cols);
  auto [oc, og] = Both(std::vector<float>(rows * cols), rows, cols);
  auto wc = Must(cpu_.Upload(wv)), wg = Must(gpu_->Upload(wv));
  cpu_.RmsNorm(xc, *wc, 1e-5f, oc);
  gpu_->RmsNorm(xg, *wg, 1e-5f, og);
  ExpectClose(oc, og, 1e-5f, 1e-6f, "rmsnorm");
  cpu_.SwiGlu(xc, yc, oc);
  gpu_->SwiGlu(xg, yg, og);
  ExpectClose(oc, og, 1e-5f, 1e-6f, "swiglu");
  cpu_.Add(xc, yc);
  gpu_->Add(xg, yg);
  ExpectClose(yc, yg, 0, 0, "add");
  cpu_.AddBias(*wc, yc);
  gpu_->AddBias(*wg, yg);
  ExpectClose(yc, yg, 0, 0, "add_bias");
  auto [sc, sg] = Both(std::vector<float>(rows * 24), rows, 24);
  cpu_.SliceColumns(xc, 48, sc);
  gpu_->SliceColumns(xg, 48, sg);
  ExpectClose(sc, sg, 0, 0, "slice_columns");
  const std::vector<int64_t> pick = {5, 0, 36, 5};
  auto [pc, pg] = Both(std::vector<float>(4 * cols), 4, cols);
  cpu_.GatherRows(xc, pick, pc);
  gpu_->GatherRows(xg, pick, pg);
  ExpectClose(pc, pg, 0, 0, "gather_rows");
  const std::vector<int32_t> ids = {3, 0, 17, 3};
  const auto table = Random(20 * cols, 4);
  auto tc = Must(cpu_.Upload(table)), tg = Must(gpu_->Upload(table));
  cpu_.Embed(*tc, cols, ids, pc);
  gpu_->Embed(*tg, cols, ids, pg);
  ExpectClose(pc, pg, 0, 0, "embed");
}

// The kernels a bf16 model's activations go through, on bf16 inputs against
// the reference on the same rounded values (outputs rounded to bf16 once).
TEST_F(CudaTest, Bf16ActivationKernelsMatchTheReference) {
  const int64_t rows = 29, cols = 256, hd = 64;
  auto [xc, xg] = Both(Random(rows * cols, 11), rows, cols);  // the residual stream stays fp32
  auto wv = Random(cols, 12);
  auto wc = Must(cpu_.Upload(wv)), wg = Must(gpu_->Upload(wv));
  auto [oc, og] = Both(std::vector<float>(rows * cols), rows, cols);
  Act ob = GpuAct(rows, cols, true);
  cpu_.RmsNorm(xc, *wc, 1e-5f, oc);
  gpu_->RmsNorm(xg, *wg, 1e-5f, ob);
  ExpectClose(oc, ob, 4e-3f, 1e-6f, "rmsnorm to bf16");
  auto [gc, gg] = Both(Random(rows * cols, 13), rows, cols);
  auto [uc, ug] = Both(Random(rows * cols, 14), rows, cols);
  Act gb = RoundedBf16Copy(gc), ub = RoundedBf16Copy(uc);
  cpu_.SwiGlu(gc, uc, oc);
  gpu_->SwiGlu(gb, ub, ob);
  ExpectClose(oc, ob, 4e-3f, 1e-6f, "swiglu bf16");
  cpu_.AddBias(*wc, uc);
  gpu_->AddBias(*wg, ub);
  ExpectClose(uc, ub, 4e-3f, 1e-6f, "add_bias bf16");
  auto [sc, sg] = Both(std::vector<float>(rows * 64), rows, 64);
  Act sb = GpuAct(rows, 64, true);
  cpu_.SliceColumns(gc, 128, sc);
  gpu_->SliceColumns(gb, 128, sb);
  ExpectClose(sc, sb, 0, 0, "slice_columns bf16");
  TokenBatch batch;
  batch.AddSequence(std::vector<int32_t>(rows, 1));
  cpu_.SetLayout(batch.layout);
  gpu_->SetLayout(batch.layout);
  std::vector<float> inv(hd / 2);
  for (int64_t i = 0; i < hd / 2; ++i) inv[i] = std::pow(500000.0f, -2.0f * i / hd);
  auto ic = Must(cpu_.Upload(inv)), ig = Must(gpu_->Upload(inv));
  cpu_.Rotary(*ic, hd, gc);
  gpu_->Rotary(*ig, hd, gb);
  ExpectClose(gc, gb, 8e-3f, 1e-5f, "rotary bf16");
  for (Act* a : {&ob, &gb, &ub, &sb}) gpu_->Free(*a);
}

// The row-parallel path (products read their slices of the input in place,
// as one strided batched GEMM when the outputs lie at a fixed stride, held at
// the outputs' precision; the fp32 tree and the residual add in one pass)
// equals per-part GEMMs on copied slices followed by the reference tree and
// add on the host, bit for bit; and the CPU backend within GEMM tolerance.
// A single part (no tp-invariance) skips the products: its GEMM adds its
// fp32 result into the residual, as an fp32-output GEMM and an add would.
TEST_F(CudaTest, RowParallelAddEqualsPartsThenTreeBitForBit) {
  const int64_t rows = 77, out = 96, in = 512;
  const auto w = Random(out * in, 31);
  for (const char* scheme : {"bf16", "fp32"})
    for (int64_t count : {1, 2, 4, 8}) {
      const std::string what = std::string(scheme) + " count " + std::to_string(count);
      const int64_t width = in / count;
      auto pc = MakeParts(cpu_, "model.layers.0.mlp.down_proj.weight", scheme, w, out, in, count);
      auto pg = MakeParts(*gpu_, "model.layers.0.mlp.down_proj.weight", scheme, w, out, in, count);
      ASSERT_TRUE(pc.ok() && pg.ok());
      const bool bf16 = std::string(scheme) == "bf16";
      std::vector<float> xv = Random(rows * in, 32 + count);
      if (bf16)
        for (float& v : xv) v = RoundBF16(v);
      auto [xc, xg] = Both(xv, rows, in);
      Act xb = GpuAct(rows, in, bf16);
      gpu_->UploadTo(xv, xb);
      const auto resid = Random(rows * out, 33);
      // The reference: each part on its own copied slice, the tree on the host.
      std::vector<float> products;
      for (int64_t p = 0; p < count; ++p) {
        // One part at tp 1 keeps its fp32 product (the GEMM adds into the residual).
        Act slice = GpuAct(rows, width, bf16), prod = GpuAct(rows, out, bf16 && count > 1);
        gpu_->SliceColumns(xb, p * width, slice);
        gpu_->Matmul(*(*pg)[p], slice, prod);
        const auto h = gpu_->Download(prod);
        products.insert(products.end(), h.begin(), h.end());
        gpu_->Free(slice);
        gpu_->Free(prod);
      }
      std::vector<float> want(rows * out);
      ref::SumRanksInTreeOrder(products.data(), static_cast<int>(count), rows * out, want.data());
      for (int64_t i = 0; i < rows * out; ++i) want[i] = resid[i] + want[i];
      for (const bool strided : {true, false}) {
        Act all = GpuAct(count * rows, out, bf16);
        std::vector<Act> outs;
        for (int64_t p = 0; p < count; ++p)
          outs.push_back(strided ? Act{static_cast<char*>(all.data) + p * rows * out * (bf16 ? 2 : 4), rows, out,
                                       bf16 ? DType::kBF16 : DType::kF32}
                                 : GpuAct(rows, out, bf16));
        Act r = GpuAct(rows, out);
        gpu_->UploadTo(resid, r);
        gpu_->RowParallelAdd(*pg, xb, {}, outs, r);
        const auto got = gpu_->Download(r);
        for (int64_t i = 0; i < rows * out; ++i)
          ASSERT_EQ(got[i], want[i]) << what << (strided ? " batched" : " separate") << " at " << i;
        if (!strided)
          for (Act& a : outs) gpu_->Free(a);
        gpu_->Free(all);
        gpu_->Free(r);
      }
      std::vector<Act> cpu_outs, ins_c;
      for (int64_t p = 0; p < count; ++p) {
        cpu_outs.push_back(CpuAct(rows, out));
        ins_c.push_back(CpuAct(rows, width));
      }
      auto [rc, rg] = Both(resid, rows, out);
      cpu_.RowParallelAdd(*pc, xc, ins_c, cpu_outs, rc);
      const std::vector<float> got(want);
      const float* c = static_cast<const float*>(rc.data);
      const float tol = bf16 ? 1e-2f : 1e-4f;  // bf16: each product rounded once
      for (int64_t i = 0; i < rows * out; ++i)
        ASSERT_NEAR(got[i], c[i], tol * std::sqrt(float(in)) * (1 + std::fabs(c[i]))) << what << " vs CPU at " << i;
      for (Act& a : cpu_outs) cpu_.Free(a);
      for (Act& a : ins_c) cpu_.Free(a);
      for (Act* a : {&xg, &xb, &rg}) gpu_->Free(*a);
    }
}

TEST_F(CudaTest, RotaryAndSharedPrefixAttentionMatchTheReference) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t hd = trial % 2 ? 128 : 64, hq = 4, hkv = trial < 2 ? 2 : 4;
    TokenBatch batch;
    batch.AddSequence(std::vector<int32_t>(5 + trial, 1));
    batch.AddShared(std::vector<int32_t>(7, 1), {std::vector<int32_t>(3, 1), std::vector<int32_t>(1, 1), {}});
    batch.AddSequence(std::vector<int32_t>(40, 1));
    const int64_t rows = batch.rows();
    cpu_.SetLayout(batch.layout);
    gpu_->SetLayout(batch.layout);
    auto [qc, qg] = Both(Random(rows * hq * hd, 10 + trial), rows, hq * hd);
    auto [kc, kg] = Both(Random(rows * hkv * hd, 20 + trial), rows, hkv * hd);
    auto [vc, vg] = Both(Random(rows * hkv * hd, 30 + trial), rows, hkv * hd);
    auto [oc, og] = Both(std::vector<float>(rows * hq * hd), rows, hq * hd);
    std::vector<float> inv(hd / 2);
    for (int64_t i = 0; i < hd / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / hd);
    auto ic = Must(cpu_.Upload(inv)), ig = Must(gpu_->Upload(inv));
    cpu_.Rotary(*ic, hd, qc);
    gpu_->Rotary(*ig, hd, qg);
    ExpectClose(qc, qg, 1e-5f, 1e-5f, "rotary");
    cpu_.Attention(qc, kc, vc, hd, oc);
    gpu_->Attention(qg, kg, vg, hd, og);
    ExpectClose(oc, og, 1e-4f, 1e-5f, "attention");
  }
}

// Both attention kernels against the reference on batches that cross the
// tiled kernel's 64-row and 32-key tiles: long sequences, shared contexts
// with branches of random lengths, every head size class, GQA ratios 1-8.
TEST_F(CudaTest, TiledAndRowwiseAttentionMatchTheReferenceOnRandomLayouts) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 14; ++trial) {
    const int64_t hd = std::vector<int64_t>{16, 32, 40, 64, 96, 128, 256}[trial % 7];
    const int64_t hkv = 1 + trial % 2, hq = hkv * std::vector<int64_t>{1, 2, 4, 8}[trial % 4];
    TokenBatch batch;
    for (int part = 0; part < 4; ++part) {
      if (rng() % 2) {
        batch.AddSequence(std::vector<int32_t>(1 + rng() % 150, 1));
      } else {
        std::vector<std::vector<int32_t>> branches(1 + rng() % 5);
        for (auto& b : branches) b.assign(rng() % 40, 1);
        std::vector<std::span<const int32_t>> spans(branches.begin(), branches.end());
        batch.AddShared(std::vector<int32_t>(1 + rng() % 90, 1), spans);
      }
    }
    const int64_t rows = batch.rows();
    cpu_.SetLayout(batch.layout);
    gpu_->SetLayout(batch.layout);
    auto [qc, qg] = Both(Random(rows * hq * hd, 60 + trial), rows, hq * hd);
    auto [kc, kg] = Both(Random(rows * hkv * hd, 70 + trial), rows, hkv * hd);
    auto [vc, vg] = Both(Random(rows * hkv * hd, 80 + trial), rows, hkv * hd);
    auto [oc, og] = Both(std::vector<float>(rows * hq * hd), rows, hq * hd);
    cpu_.Attention(qc, kc, vc, hd, oc);
    gpu_->Attention(qg, kg, vg, hd, og);  // the tiled kernel
    ExpectClose(oc, og, 1e-4f, 1e-5f, ("tiled attention, hd " + std::to_string(hd)).c_str());
    const auto [sb, pe, bb] = gpu_->LayoutOnDevice();
    kernels::AttentionRowwise(static_cast<float*>(qg.data), static_cast<float*>(kg.data),
                              static_cast<float*>(vg.data), rows, sb, pe, bb, hq, hkv, hd,
                              static_cast<float*>(og.data), 0);
    ExpectClose(oc, og, 1e-4f, 1e-5f, ("rowwise attention, hd " + std::to_string(hd)).c_str());
    // A bf16 model's activations: against the reference on the bf16 Q, K, V
    // (the tensor-core kernel also rounds the probabilities, and the output
    // is bf16, hence the tolerance). Head dims without a tensor-core
    // instance take the tiled kernel over bf16.
    ExpectBf16AttentionClose(qc, kc, vc, hd, oc);
  }
}

TEST_F(CudaTest, TensorCoreAttentionMatchesTheReferenceOnLongSequences) {
  std::mt19937 rng(23);
  for (const int64_t hd : {32, 64, 128}) {
    TokenBatch batch;  // many key tiles per row block, and blocks that straddle sequences
    batch.AddSequence(std::vector<int32_t>(700 + rng() % 64, 1));
    batch.AddShared(std::vector<int32_t>(130, 1), {std::vector<int32_t>(70, 1), std::vector<int32_t>(65, 1)});
    batch.AddSequence(std::vector<int32_t>(200 + rng() % 64, 1));
    const int64_t rows = batch.rows(), hkv = 2, hq = 8;
    cpu_.SetLayout(batch.layout);
    gpu_->SetLayout(batch.layout);
    std::vector<float> qv = Random(rows * hq * hd, 3 * hd), kv = Random(rows * hkv * hd, 3 * hd + 1);
    for (float& x : qv) x *= 2.0f;  // peaked softmax rows as well as flat ones
    auto [qc, qg] = Both(qv, rows, hq * hd);
    auto [kc, kg] = Both(kv, rows, hkv * hd);
    auto [vc, vg] = Both(Random(rows * hkv * hd, 3 * hd + 2), rows, hkv * hd);
    auto [oc, og] = Both(std::vector<float>(rows * hq * hd), rows, hq * hd);
    ExpectBf16AttentionClose(qc, kc, vc, hd, oc);
  }
}

TEST_F(CudaTest, MatmulFp32AndBf16MatchTheReference) {
  for (auto [m, n, k] : {std::tuple{1, 64, 64}, std::tuple{33, 200, 96}, std::tuple{256, 512, 384}}) {
    const auto w = Random(n * k, 40 + m), x = Random(m * k, 50 + m);
    for (const char* scheme : {"fp32", "bf16"}) {
      auto lc = MakeLinear(cpu_, "model.layers.0.mlp.up_proj.weight", scheme, w, n, k);
      auto lg = MakeLinear(*gpu_, "model.layers.0.mlp.up_proj.weight", scheme, w, n, k);
      ASSERT_TRUE(lc.ok() && lg.ok());
      const bool bf16 = std::string(scheme) == "bf16";
      std::vector<float> xr = x;
      if (bf16)  // a bf16 model's GEMMs take bf16 activations
        for (float& v : xr) v = RoundBF16(v);
      auto [xc, xg] = Both(xr, m, k);
      auto [yc, yg] = Both(std::vector<float>(m * n), m, n);
      Act xin = xg;
      if (bf16) {
        xin = GpuAct(m, k, true);
        gpu_->UploadTo(xr, xin);
      }
      cpu_.Matmul(**lc, xc, yc);
      gpu_->Matmul(**lg, xin, yg);  // fp32 out
      ExpectClose(yc, yg, 1e-4f, 1e-4f * std::sqrt(float(k)), scheme);
      if (bf16) {  // bf16 activations in, bf16 out
        Act xb = xin, yb = GpuAct(m, n, true);
        gpu_->UploadTo(xr, xb);
        gpu_->Matmul(**lg, xb, yb);
        ExpectClose(yc, yb, 4e-3f, 1e-4f * std::sqrt(float(k)), "bf16 in and out");
        gpu_->Free(xb);
        gpu_->Free(yb);
      }
    }
  }
}

TEST_F(CudaTest, RankSumAddsInTheReferenceTreeOrderBitForBit) {
  // Values of mixed magnitude, so that a different order of additions would
  // change the low bits.
  for (int ranks = 1; ranks <= kernels::kMaxTreeRanks; ++ranks)
    for (int64_t n : {1, 255, 4099}) {
      std::vector<float> all = Random(ranks * n, 40 + ranks);
      for (int64_t i = 0; i < ranks * n; i += 3) all[i] *= 1e4f;
      std::vector<float> want(n);
      ref::SumRanksInTreeOrder(all.data(), ranks, n, want.data());
      Act in = GpuAct(ranks, n), out = GpuAct(1, n);
      gpu_->UploadTo(all, in);
      kernels::SumRanksInTreeOrder(static_cast<float*>(in.data), ranks, n, static_cast<float*>(out.data), 0);
      const std::vector<float> got = gpu_->Download(out);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << "ranks " << ranks << " n " << n << " at " << i;
      gpu_->Free(in);
      gpu_->Free(out);
    }
}

TEST_F(CudaTest, SumTreeEqualsTheCpuBackendsPairwiseAdditionsBitForBit) {
  for (int count : {1, 2, 3, 5, 8, 16, 17}) {  // 17: past the fused kernel, the pairwise fallback
    const int64_t rows = 13, cols = 301;
    std::vector<Act> cpu_parts, gpu_parts;
    for (int p = 0; p < count; ++p) {
      std::vector<float> v = Random(rows * cols, 90 + p);
      for (size_t i = p % 3; i < v.size(); i += 3) v[i] *= 1e4f;
      auto [c, g] = Both(v, rows, cols);
      cpu_parts.push_back(c);
      gpu_parts.push_back(g);
    }
    cpu_.SumTree(cpu_parts);
    gpu_->SumTree(gpu_parts);
    const std::vector<float> got = gpu_->Download(gpu_parts[0]);
    const float* want = static_cast<const float*>(cpu_parts[0].data);
    for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(got[i], want[i]) << "count " << count << " at " << i;
    for (auto& a : gpu_parts) gpu_->Free(a);
    for (auto& a : cpu_parts) cpu_.Free(a);
  }
}

TEST_F(CudaTest, StageTimesCountWhatRan) {
  const int64_t rows = 64, cols = 512;
  auto lin = MakeLinear(*gpu_, "model.layers.0.mlp.up_proj.weight", "bf16", Random(cols * cols, 5), cols, cols);
  ASSERT_TRUE(lin.ok()) << lin.status();
  Act x = GpuAct(rows, cols, true), y = GpuAct(rows, cols);
  gpu_->UploadTo(Random(rows * cols, 6), x);
  auto w = Must(gpu_->Upload(Random(cols, 7)));
  gpu_->Matmul(**lin, x, y);  // untimed
  gpu_->EnableStageTimes(true);
  for (int i = 0; i < 3; ++i) gpu_->Matmul(**lin, x, y);
  gpu_->RmsNorm(y, *w, 1e-5f, x);
  gpu_->EnableStageTimes(false);
  const std::vector<std::pair<std::string, double>> ms = gpu_->StageMillis();
  auto stage = [](const std::vector<std::pair<std::string, double>>& st, const std::string& name) {
    for (const auto& [n, v] : st)
      if (n == name) return v;
    return 0.0;
  };
  EXPECT_GT(stage(ms, "gemm"), 0);
  EXPECT_GT(stage(ms, "norm"), 0);
  EXPECT_EQ(stage(ms, "attention"), 0);
  EXPECT_EQ(stage(ms, "head gemm"), 0);
  EXPECT_TRUE(gpu_->StageMillis().empty());  // the call drains them
  gpu_->Free(x);
  gpu_->Free(y);
}

TEST_F(CudaTest, LogitStatisticsMatchTheReference) {
  const int64_t rows = 9, cols = 1000;
  auto [lc, lg] = Both(Random(rows * cols, 60), rows, cols);
  std::vector<int32_t> targets = {0, 5, 999, 100, 250, 300, 7, 1000 + 3, 499};
  for (auto [lo, hi] : {std::pair{0, 1000}, std::pair{250, 500}}) {
    LogitStats c, g;
    cpu_.LogitStatistics(lc, lo, hi, targets, 8, true, lo, &c);
    gpu_->LogitStatistics(lg, lo, hi, targets, 8, true, lo, &g);
    EXPECT_EQ(g.max, c.max);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_NEAR(g.sum_exp[r], c.sum_exp[r], 1e-5f * c.sum_exp[r]);
      EXPECT_TRUE((std::isnan(g.target_logit[r]) && std::isnan(c.target_logit[r])) || g.target_logit[r] == c.target_logit[r]);
    }
    EXPECT_EQ(g.topk_id, c.topk_id);
    EXPECT_EQ(g.topk_logit, c.topk_logit);
    EXPECT_EQ(g.logits, c.logits);
  }
}

// A baseline's logits b and a candidate's c, [rows, cols], ~±30, by row
// kind (r % 6): c near b; c == b exactly; ties for the maximum (every 613th
// column, in b and in c); NaN logits; c unrelated to b; maxima of zero, -0.0
// and +0.0 taking turns (the reference's first column gives the sign).
// Every sixth row on from 6 is ten times smaller.
std::pair<std::vector<float>, std::vector<float>> PairLogits(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> b(rows * cols), c(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = (r / 6) % 2 ? 1.0f : 10.0f;
    for (int64_t j = 0; j < cols; ++j) {
      float& x = b[r * cols + j];
      float& y = c[r * cols + j];
      x = scale * nd(rng);
      y = x + 0.3f * scale * nd(rng);
      switch (r % 6) {
        case 1: y = x; break;
        case 2:
          if (j % 613 == 11) x = y = 60.0f;
          break;
        case 3:
          if (j % 977 == 5) x = NAN;
          if (j % 1009 == 7) y = NAN;
          break;
        case 4: y = scale * nd(rng); break;
        case 5:
          x = -std::abs(x);
          y = -std::abs(y);
          if (j % 701 == 3 || j % 701 == 300) {
            x = j % 701 == 3 ? -0.0f : 0.0f;
            y = -x;
          }
          break;
      }
    }
  }
  return {b, c};
}

// The same float bit for bit (a zero's sign included), any NaN matching any NaN.
bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// The pair statistics against the CPU's: maxima, argmax and target logit
// exactly, the fp64 sums to rounding, 1e-12 of the sum of their terms'
// magnitudes (the GPU adds them in another order), and the dots of c == b
// exactly 0. Row counts 1 to 300, an odd row stride (every row aligned
// differently), slices offset, narrow, empty and wide (both sides of the
// kernel's shared-memory staging), targets in and out of the slice. Then
// one row alone: its sums equal, bit for bit, those it had among 300.
TEST_F(CudaTest, PairLogitStatisticsMatchTheReference) {
  const int64_t staged = kernels::kPairLogitStagedColumns, wide = staged + 3001;
  struct Case {
    int64_t rows, cols;
    std::vector<std::pair<int64_t, int64_t>> slices;
  };
  const std::vector<Case> cases = {
      {1, 5003, {{0, 5003}, {37, 4170}}},
      {7, 5003, {{0, 5003}, {37, 4170}, {1000, 1001}, {4990, 5003}, {10, 10}}},
      {300, 5003, {{37, 4170}, {0, 5003}}},
      {7, wide, {{0, wide}, {123, wide - 7}, {5, 5 + staged}, {5, 6 + staged}}},
  };
  const int64_t vocab_begin = 48113;
  for (const Case& cs : cases) {
    const auto [b, c] = PairLogits(cs.rows, cs.cols, static_cast<uint32_t>(70 + cs.rows));
    auto [bc, bg] = Both(b, cs.rows, cs.cols);
    auto [cc, cg] = Both(c, cs.rows, cs.cols);
    for (const auto& [lo, hi] : cs.slices) {
      const int64_t n = hi - lo;
      std::vector<int32_t> targets(cs.rows);
      for (int64_t r = 0; r < cs.rows; ++r)  // inside, past the end, before the start, on a tie
        targets[r] = static_cast<int32_t>(r % 4 == 0   ? vocab_begin + (r * 7919) % std::max<int64_t>(n, 1)
                                          : r % 4 == 1 ? vocab_begin + n + r
                                          : r % 4 == 2 ? vocab_begin - 1 - r
                                                       : vocab_begin + (11 - lo % 613 + 613) % 613);
      LogitStats want, got;
      cpu_.PairLogitStatistics(bc, cc, lo, hi, targets, vocab_begin, &want);
      gpu_->PairLogitStatistics(bg, cg, lo, hi, targets, vocab_begin, &got);
      const std::string where = "rows " + std::to_string(cs.rows) + ", cols [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + ")";
      ASSERT_EQ(got.base_sum.size(), static_cast<size_t>(cs.rows)) << where;
      EXPECT_EQ(got.base_argmax, want.base_argmax) << where;
      for (int64_t r = 0; r < cs.rows; ++r) {
        const std::string at = where + ", row " + std::to_string(r);
        EXPECT_TRUE(SameFloat(got.base_max[r], want.base_max[r])) << at << ": " << got.base_max[r];
        EXPECT_TRUE(SameFloat(got.cand_max[r], want.cand_max[r])) << at << ": " << got.cand_max[r];
        EXPECT_TRUE(SameFloat(got.base_target_logit[r], want.base_target_logit[r]))
            << at << ": " << got.base_target_logit[r] << " vs " << want.base_target_logit[r];
        // Each sum's terms' magnitudes, from the reference's maxima.
        const float* br = b.data() + r * cs.cols + lo;
        const float* cr = c.data() + r * cs.cols + lo;
        const double mb = want.base_max[r], mc = want.cand_max[r];
        double mag_base_dot = 0, mag_cand_dot = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double d = std::abs(double{br[j]} - double{cr[j]});
          mag_base_dot += std::exp(br[j] - mb) * d;
          mag_cand_dot += std::exp(cr[j] - mc) * d;
        }
        auto near = [&](const char* what, double g, double w, double magnitude) {
          if (std::isnan(w))
            EXPECT_TRUE(std::isnan(g)) << at << ": " << what << " " << g << ", want NaN";
          else
            EXPECT_LE(std::abs(g - w), 1e-12 * magnitude) << at << ": " << what << " " << g << " vs " << w;
        };
        near("base_sum", got.base_sum[r], want.base_sum[r], want.base_sum[r]);
        near("cand_sum", got.cand_sum[r], want.cand_sum[r], want.cand_sum[r]);
        near("base_dot", got.base_dot[r], want.base_dot[r], mag_base_dot);
        near("cand_dot", got.cand_dot[r], want.cand_dot[r], mag_cand_dot);
        if (r % 6 == 1) {  // c == b: every dot term is exp(·)·0
          EXPECT_EQ(got.base_dot[r], 0.0) << at;
          EXPECT_EQ(got.cand_dot[r], 0.0) << at;
        }
      }
      if (cs.rows == 300) {  // batch invariance: row 5 alone, in a buffer that aligns it differently
        const int64_t r = 5;
        auto [b1c, b1g] = Both({b.begin() + r * cs.cols, b.begin() + (r + 1) * cs.cols}, 1, cs.cols);
        auto [c1c, c1g] = Both({c.begin() + r * cs.cols, c.begin() + (r + 1) * cs.cols}, 1, cs.cols);
        LogitStats one;
        gpu_->PairLogitStatistics(b1g, c1g, lo, hi, std::span(targets).subspan(r, 1), vocab_begin, &one);
        EXPECT_EQ(one.base_sum[0], got.base_sum[r]) << where;
        EXPECT_EQ(one.cand_sum[0], got.cand_sum[r]) << where;
        EXPECT_EQ(one.base_dot[0], got.base_dot[r]) << where;
        EXPECT_EQ(one.cand_dot[0], got.cand_dot[r]) << where;
        EXPECT_EQ(one.base_argmax[0], got.base_argmax[r]) << where;
        for (Act* a : {&b1g, &c1g}) gpu_->Free(*a);
        for (Act* a : {&b1c, &c1c}) cpu_.Free(*a);
      }
    }
    for (Act* a : {&bg, &cg}) gpu_->Free(*a);
    for (Act* a : {&bc, &cc}) cpu_.Free(*a);
  }
}

// The top-k's three paths (ranked candidates, rounds over the candidates,
// rounds over a flat row) and slices narrower than k, with ties everywhere.
TEST_F(CudaTest, LogitStatisticsTopKOnTiesFlatRowsAndNarrowSlices) {
  const int64_t rows = 5, cols = 5000;
  std::vector<float> v = Random(rows * cols, 61);
  for (int64_t j = 0; j < cols; ++j) {
    v[1 * cols + j] = 0.5f;                                           // flat: every logit a candidate
    v[2 * cols + j] = std::round(v[2 * cols + j] * 2.0f) / 2.0f;      // few levels: thousands of ties
    v[3 * cols + j] = std::round(v[3 * cols + j] * 64.0f) / 64.0f;    // many levels, some ties
    if (j % 2 == 0) v[4 * cols + j] = 5.0f;  // 2500 tied candidates: rounds over the candidates
  }
  auto [lc, lg] = Both(v, rows, cols);
  const std::vector<int32_t> targets = {3, 4000, 12, 4999, 7};
  for (auto [lo, hi] : {std::pair{0, 5000}, std::pair{10, 15}, std::pair{4990, 5000}})
    for (int k : {1, 8, 32}) {
      LogitStats c, g;
      cpu_.LogitStatistics(lc, lo, hi, targets, k, false, lo, &c);
      gpu_->LogitStatistics(lg, lo, hi, targets, k, false, lo, &g);
      EXPECT_EQ(g.topk_id, c.topk_id) << "cols [" << lo << ", " << hi << "), k " << k;
      EXPECT_EQ(g.topk_logit, c.topk_logit) << "cols [" << lo << ", " << hi << "), k " << k;
      EXPECT_EQ(g.max, c.max);
    }
}

// Log-prob rows of every position, by backend and scheme.
std::vector<float> ForwardLogProbs(const std::string& model, Backend* backend, const std::string& scheme,
                                   const std::vector<std::vector<int32_t>>& seqs) {
  auto ckpt = OpenCheckpoint(model);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  auto d = Decoder::Load(**ckpt, backend, {.scheme = TestScheme(scheme)});
  EXPECT_TRUE(d.ok()) << d.status();
  TokenBatch batch;
  for (const auto& s : seqs) batch.AddSequence(s);
  std::vector<int64_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<LogitStats> chunks;
  EXPECT_TRUE((*d)->Forward(batch, rows, batch.tokens, 4, true, &chunks).ok());
  return CombineLogitStats(chunks, 4, true).logprobs;
}

double RelativeL2(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, r = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    e += std::pow(double{a[i]} - b[i], 2);
    r += std::pow(double{b[i]}, 2);
  }
  return std::sqrt(e / r);
}

TEST_F(CudaTest, ForwardMatchesGoldenAndCpu) {
  for (const char* dir : {"models/llama3_features", "models/qwen2_features", "tiny/model"}) {
    const std::string model = testing::RepoTestData(dir).string();
    std::vector<std::vector<int32_t>> seqs = {{1, 5, 9, 200, 3}, std::vector<int32_t>(60, 7), {0}};
    for (int i = 0; i < 60; ++i) seqs[1][i] = (i * 37) % 300;
    const auto cpu32 = ForwardLogProbs(model, &cpu_, "fp32", seqs);
    const auto gpu32 = ForwardLogProbs(model, gpu_.get(), "fp32", seqs);
    EXPECT_LE(RelativeL2(gpu32, cpu32), 1e-5) << dir << " fp32";
    const auto cpu16 = ForwardLogProbs(model, &cpu_, "w4a16-g32", seqs);
    const auto gpu16 = ForwardLogProbs(model, gpu_.get(), "w4a16-g32", seqs);
    EXPECT_LE(RelativeL2(gpu16, cpu16), 1e-2) << dir << " w4a16-g32 (bf16 on the GPU)";
    std::printf("%s: rel L2 GPU vs CPU fp32 %.2e, w4a16-g32 %.2e\n", dir, RelativeL2(gpu32, cpu32), RelativeL2(gpu16, cpu16));
  }
}

// A bf16 model's embedding table is held at bf16 where that is exact (half
// the bytes) and embeds the same rows as the fp32 table; a table bf16 does
// not hold stays fp32.
TEST_F(CudaTest, EmbeddingTablesAtBf16EmbedTheSameRows) {
  const int64_t vocab = 300, dim = 96;
  std::vector<float> exact(vocab * dim), inexact(vocab * dim);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < exact.size(); ++i) {
    exact[i] = RoundBF16(normal(rng));
    inexact[i] = exact[i];
  }
  inexact[1234] = 1.0f + 1.0f / 1024;  // not a bf16 value
  gpu_->SetModelPrecision(DType::kBF16);
  const std::vector<int32_t> ids = {0, 299, 17, 17, 5, 123};
  for (const auto* table : {&exact, &inexact}) {
    const bool bf16 = table == &exact;
    const int64_t before = gpu_->WeightBytes();
    auto dense = Must(gpu_->UploadEmbedding(*table));
    EXPECT_EQ(gpu_->WeightBytes() - before, vocab * dim * (bf16 ? 2 : 4));
    auto fp32 = Must(gpu_->Upload(*table));
    Act a = GpuAct(static_cast<int64_t>(ids.size()), dim), b = GpuAct(static_cast<int64_t>(ids.size()), dim);
    gpu_->Embed(*dense, dim, ids, a);
    gpu_->Embed(*fp32, dim, ids, b);
    const auto got = gpu_->Download(a), want = gpu_->Download(b);
    EXPECT_EQ(got, want) << (bf16 ? "bf16 table" : "fp32 table");
    for (size_t r = 0; r < ids.size(); ++r)
      for (int64_t c = 0; c < dim; ++c) ASSERT_EQ(got[r * dim + c], (*table)[ids[r] * dim + c]);
    gpu_->Free(a);
    gpu_->Free(b);
  }
}

// Device quantization through the decoder: schemes made from the held bf16
// copy of a sweep (and, without a store, from temporary copies) score as
// the same schemes quantized on the host, bit for bit, each on a fresh
// backend as a sweep makes them (the CPU twin: HeldWeights.*).
TEST_F(CudaTest, SchemesFromTheHeldWeightsScoreAsLoadedOnes) {
  auto ckpt = OpenSyntheticCheckpoint("synthetic:tiny-llama3");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto fresh = [] {
    auto b = CudaBackend::Create();
    QSWEEP_CHECK(b.ok());
    return std::move(*b);
  };
  HeldWeights held(ckpt->get());
  auto base_backend = fresh();
  const auto base = testing::ScoreFixedSequenceOn(**ckpt, base_backend.get(), {.scheme = TestScheme("bf16"), .held = &held});
  EXPECT_EQ(held.tensors(), 7 * (*ckpt)->config().num_layers + 1);
  for (const char* name : {"w4a16-g32", "w2a16-g16-asym", "w8a16", "nf4-g64", "fp4-g32", "t2a16-g16", "w1a16-g16",
                           "fp8a16", "w3a16-g128"}) {
    DecoderOptions o{.scheme = TestScheme(name)};
    o.host_quantize = true;
    auto host_backend = fresh();
    const auto want = testing::ScoreFixedSequenceOn(**ckpt, host_backend.get(), o);
    ASSERT_FALSE(want.logprobs.empty()) << name;
    EXPECT_NE(want.logprobs, base.logprobs) << name;
    o.host_quantize = false;
    o.held = &held;
    auto held_backend = fresh();
    EXPECT_EQ(testing::ScoreFixedSequenceOn(**ckpt, held_backend.get(), o).logprobs, want.logprobs) << name;
    o.held = nullptr;
    auto temporary_backend = fresh();
    EXPECT_EQ(testing::ScoreFixedSequenceOn(**ckpt, temporary_backend.get(), o).logprobs, want.logprobs)
        << name << " without a store";
  }
  EXPECT_EQ(testing::ScoreFixedSequenceOn(**ckpt, fresh().get(), {.scheme = TestScheme("bf16"), .held = &held}).logprobs,
            base.logprobs);
}

}  // namespace
}  // namespace qsweep
