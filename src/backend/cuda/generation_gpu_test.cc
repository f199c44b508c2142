// Generation on the GPU: the KV cache kernels against the CPU reference on
// random caches, and greedy decoding of the embedded tiny model against the
// CPU backend token for token. Runs on the GPU machine; skipped where there
// is no GPU.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference_ops.h"
#include "backend/cuda/cuda_backend.h"
#include "eval/generation.h"
#include "kv_cache.cuh"
#include "model/decoder.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

class GenerationGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = CudaBackend::Create();
    if (!b.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine (" << b.status() << ")";
    gpu_ = std::move(*b);
  }
  std::unique_ptr<CudaBackend> gpu_;
};

std::vector<float> Random(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Decode rows over random caches: each row a sequence of 1..3000 keys at a
// random place in the cache, head dims 32..256, GQA groups 1..8, fp32 and
// bf16 (the reference on the bf16-rounded values).
TEST_F(GenerationGpuTest, CacheKernelsMatchTheReference) {
  std::mt19937 rng(41);
  for (int trial = 0; trial < 12; ++trial) {
    const bool bf16 = trial % 2;
    const int64_t hd = std::vector<int64_t>{32, 64, 128, 256, 80, 36}[trial % 6];
    const int64_t hkv = 1 + trial % 3, hq = hkv * std::vector<int64_t>{1, 4, 8}[trial % 3];
    const int64_t rows = 1 + rng() % 9, cache_rows = 8192;
    SequenceLayout l;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t len = trial < 2 ? 1 + r : 1 + rng() % 3000;
      const int64_t begin = rng() % (cache_rows - len);
      l.positions.push_back(static_cast<int32_t>(len - 1));
      l.seq_begin.push_back(r);
      l.prefix_end.push_back(r);
      l.branch_begin.push_back(r);
      l.cache_begin.push_back(begin);
      l.cache_row.push_back(begin + len - 1);
    }
    auto round = [&](std::vector<float> v) {
      if (bf16)
        for (float& x : v) x = RoundBF16(x);
      return v;
    };
    const std::vector<float> q = round(Random(rows * hq * hd, rng));
    std::vector<float> kc = round(Random(cache_rows * hkv * hd, rng)), vc = round(Random(cache_rows * hkv * hd, rng));
    const std::vector<float> knew = round(Random(rows * hkv * hd, rng)), vnew = round(Random(rows * hkv * hd, rng));
    const DType t = bf16 ? DType::kBF16 : DType::kF32;
    auto up = [&](const std::vector<float>& v, int64_t n, int64_t cols) {
      auto a = gpu_->AllocAs(n, cols, t);
      EXPECT_TRUE(a.ok());
      gpu_->UploadTo(v, *a);
      return *a;
    };
    Act qg = up(q, rows, hq * hd), kg = up(kc, cache_rows, hkv * hd), vg = up(vc, cache_rows, hkv * hd);
    Act kn = up(knew, rows, hkv * hd), vn = up(vnew, rows, hkv * hd), og = up(std::vector<float>(rows * hq * hd), rows, hq * hd);
    gpu_->SetLayout(l);
    gpu_->WriteCache(kn, kg);
    gpu_->WriteCache(vn, vg);
    gpu_->CachedAttention(qg, kg, vg, hd, og);
    // The reference: the new rows written, then attention over the ranges.
    const int64_t kvs = hkv * hd;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < kvs; ++c) {
        kc[l.cache_row[r] * kvs + c] = knew[r * kvs + c];
        vc[l.cache_row[r] * kvs + c] = vnew[r * kvs + c];
      }
    EXPECT_EQ(gpu_->Download(kg), kc) << "the keys written, trial " << trial;
    EXPECT_EQ(gpu_->Download(vg), vc) << "the values written, trial " << trial;
    std::vector<int64_t> end(rows);
    for (int64_t r = 0; r < rows; ++r) end[r] = l.cache_row[r] + 1;
    std::vector<float> ref(rows * hq * hd);
    ref::CachedAttention(q.data(), kc.data(), vc.data(), rows, l.cache_begin.data(), end.data(), hq, hkv, hd, ref.data());
    const std::vector<float> got = gpu_->Download(og);
    const float rtol = bf16 ? 1e-2f : 1e-4f, atol = bf16 ? 1e-2f : 1e-5f;
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], atol + rtol * std::fabs(ref[i])) << "trial " << trial << " hd " << hd << " at " << i;
    // The kernel without splits (the fallback for other head dims).
    std::vector<int64_t> last(rows);
    for (int64_t r = 0; r < rows; ++r) last[r] = l.cache_row[r];
    int64_t* dev = nullptr;
    ASSERT_EQ(cudaMalloc(&dev, 2 * rows * 8), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dev, l.cache_begin.data(), rows * 8, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dev + rows, last.data(), rows * 8, cudaMemcpyHostToDevice), cudaSuccess);
    if (bf16)
      kernels::CachedAttentionPerHead(static_cast<__nv_bfloat16*>(qg.data), static_cast<__nv_bfloat16*>(kg.data),
                                      static_cast<__nv_bfloat16*>(vg.data), rows, dev, dev + rows, hq, hkv, hd,
                                      static_cast<__nv_bfloat16*>(og.data), 0);
    else
      kernels::CachedAttentionPerHead(static_cast<float*>(qg.data), static_cast<float*>(kg.data),
                                      static_cast<float*>(vg.data), rows, dev, dev + rows, hq, hkv, hd,
                                      static_cast<float*>(og.data), 0);
    const std::vector<float> per_head = gpu_->Download(og);
    cudaFree(dev);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(per_head[i], ref[i], atol + rtol * std::fabs(ref[i])) << "per head, trial " << trial << " at " << i;
    for (Act* a : {&qg, &kg, &vg, &kn, &vn, &og}) gpu_->Free(*a);
  }
}

struct Generated {
  std::vector<GenerationResult> results;
};

class TinyGenerationGpuTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!CudaBackend::Create().ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
    auto c = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
    ASSERT_TRUE(c.ok()) << c.status();
    ckpt_ = std::move(*c);
    auto t = LoadTokenizer(testing::RepoTestData("tiny/model").string());
    ASSERT_TRUE(t.ok()) << t.status();
    tok_ = std::move(*t);
    const char* prompts[] = {"15+40=", "96+98=", "12+57=", "rev xbcs", "rev qiea", "z=6 h=5 r=0 s=1 ; h?",
                             "max 3 9 2 3", "7", "rev", "=", "44+4", "n=0 q=8 g=1 l=1 ; n?"};
    for (const char* p : prompts) {
      GenerationRequest r{.prompt = {tok_->bos_id()}, .max_tokens = 24, .stop = {}};
      const auto ids = tok_->Encode(p);
      r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
      requests_.push_back(r);
    }
  }
  std::vector<GenerationResult> Generate(Backend& backend, int64_t sequences) {
    auto d = Decoder::Load(*ckpt_, &backend, {.scheme = TestScheme(GetParam()), .max_batch_tokens = 512,
                                              .cache_rows = 1024});
    EXPECT_TRUE(d.ok()) << d.status();
    LocalScorer scorer(d->get());
    auto out = GenerateGreedy(scorer, requests_,
                              {.tokenizer = tok_.get(), .eos_ids = {tok_->eos_id()}, .max_sequences = sequences});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::vector<GenerationResult>{};
  }
  std::unique_ptr<Checkpoint> ckpt_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<GenerationRequest> requests_;
};

// The GPU's greedy tokens equal the CPU reference's. Where they part, the
// CPU's two best tokens at that step must be a near tie (the backends'
// logits differ by rounding only), and the test says where and by how much.
TEST_P(TinyGenerationGpuTest, GreedyTokensEqualTheCpuBackends) {
  CpuBackend cpu;
  auto gpu = CudaBackend::Create();
  ASSERT_TRUE(gpu.ok());
  const auto want = Generate(cpu, 32);
  const auto got = Generate(**gpu, 32);
  ASSERT_EQ(got.size(), want.size());
  int diverged = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i].tokens == want[i].tokens) continue;
    ++diverged;
    size_t at = 0;
    while (at < got[i].tokens.size() && at < want[i].tokens.size() && got[i].tokens[at] == want[i].tokens[at]) ++at;
    ASSERT_LT(at, want[i].tokens.size());
    const float gap = at < got[i].logprobs.size() ? std::fabs(want[i].logprobs[at] - got[i].logprobs[at]) : 0;
    std::printf("%s request %zu diverges at token %zu: cpu %d (log p %.5f) gpu %d (log p %.5f)\n", GetParam(), i, at,
                want[i].tokens[at], want[i].logprobs[at], at < got[i].tokens.size() ? got[i].tokens[at] : -1,
                at < got[i].logprobs.size() ? got[i].logprobs[at] : NAN);
    EXPECT_LT(gap, 0.05f) << "request " << i << ": not a near tie";
  }
  EXPECT_LE(diverged, 1) << "of " << want.size() << " requests";
  // The GPU alone: one sequence at a time gives the tokens of all at once.
  const auto alone = Generate(**gpu, 1);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(alone[i].tokens, got[i].tokens) << "request " << i;
}

INSTANTIATE_TEST_SUITE_P(Schemes, TinyGenerationGpuTest, ::testing::Values("bf16", "w4a16-g32"));

// Decoding as a deployment runs it (the kernel for each row count, the fast
// reduction) at Llama-3.2-1B shapes, whose layers the low-bit kernels split
// across blocks: every step's log-probability finite over 40 steps, and the
// tokens those of the batch-invariant kernels but at near ties.
TEST(GenerationGpuShapes, RowCountKernelsDecodeFinitelyAndAgree) {
  auto probe = CudaBackend::Create();
  if (!probe.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  probe->reset();
  auto ckpt = OpenCheckpoint("synthetic:llama3.2-1b@5");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::mt19937 rng(9);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 4; ++i) {
    GenerationRequest r{.prompt = {}, .max_tokens = 40, .stop = {}};
    for (int t = 0; t < 50 + 30 * i; ++t) r.prompt.push_back(static_cast<int32_t>(rng() % 128256));
    requests.push_back(r);
  }
  for (const char* scheme : {"w4a16-g128", "bf16"}) {
    // Batch-invariant kernels; the row-count kernels recorded as CUDA graphs
    // (RunRecorded); the same run as it is.
    std::vector<std::vector<GenerationResult>> runs;
    for (const int mode : {0, 1, 2}) {
      const bool invariant = mode == 0;
      auto gpu = CudaBackend::Create();
      ASSERT_TRUE(gpu.ok());
      (*gpu)->EnableRecording(mode != 2);
      auto d = Decoder::Load(**ckpt, gpu->get(), {.scheme = TestScheme(scheme), .tp_invariant = invariant,
                                                  .max_batch_tokens = 1024, .cache_rows = 4 * 200});
      ASSERT_TRUE(d.ok()) << d.status();
      (*gpu)->SetBatchInvariant(invariant);
      LocalScorer scorer(d->get());
      auto out = GenerateGreedy(scorer, requests, {.tokenizer = nullptr, .eos_ids = {}, .max_sequences = 4});
      ASSERT_TRUE(out.ok()) << out.status();
      for (size_t i = 0; i < out->size(); ++i) {
        EXPECT_EQ((*out)[i].stop, StopReason::kLength) << scheme << " mode " << mode << " request " << i;
        for (size_t t = 0; t < (*out)[i].logprobs.size(); ++t)
          ASSERT_TRUE(std::isfinite((*out)[i].logprobs[t]))
              << scheme << (invariant ? " batch-invariant" : " row-count kernels") << ": request " << i << " step " << t;
      }
      runs.push_back(*std::move(out));
    }
    // A recording replays the very kernels: the same bits.
    for (size_t i = 0; i < requests.size(); ++i) {
      EXPECT_EQ(runs[1][i].tokens, runs[2][i].tokens) << scheme << " request " << i << ": recorded vs plain";
      EXPECT_EQ(runs[1][i].logprobs, runs[2][i].logprobs) << scheme << " request " << i << ": recorded vs plain";
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& a = runs[0][i];
      const auto& b = runs[1][i];
      size_t at = 0;
      while (at < a.tokens.size() && at < b.tokens.size() && a.tokens[at] == b.tokens[at]) ++at;
      if (at == a.tokens.size()) continue;
      std::printf("%s request %zu: the two kernels part at step %zu (log p %.5f vs %.5f)\n", scheme, i, at,
                  a.logprobs[at], b.logprobs[at]);
      EXPECT_LT(std::fabs(a.logprobs[at] - b.logprobs[at]), 0.05) << scheme << " request " << i << ": not a near tie";
    }
  }
}

}  // namespace
}  // namespace qsweep
