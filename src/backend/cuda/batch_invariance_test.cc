// Batch invariance on the GPU: a row's result does not depend on what else
// its batch holds. Every operation of the forward keeps the rule: GEMMs run
// one algorithm per weight shape whatever the row count (CudaBackend::
// AlgoFor), attention takes its query blocks within one sequence and tiles
// keys from the sequence's first row (kernels/query_blocks.h), and norms,
// rotary, SwiGLU and logit statistics are per row. Checked bit for bit:
// each operation alone, then the whole forward.
#include <cstring>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "backend/cuda/cuda_backend.h"
#include "core/status_macros.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "quant/packed_linear.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

class BatchInvariance : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = CudaBackend::Create();
    if (!b.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine (" << b.status() << ")";
    gpu_ = std::move(*b);
  }
  static std::vector<float> Random(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
  }
  Act Buffer(int64_t rows, int64_t cols, DType t, const std::vector<float>& values = {}) {
    auto a = gpu_->AllocAs(rows, cols, t);
    QSWEEP_CHECK(a.ok());
    if (!values.empty()) gpu_->UploadTo(values, *a);
    return *a;
  }
  // The raw bits of a downloaded buffer (bf16 values widen exactly).
  std::vector<uint32_t> Bits(const Act& a, int64_t first_row, int64_t rows) {
    const std::vector<float> v = gpu_->Download(a);
    std::vector<uint32_t> bits(rows * a.cols);
    std::memcpy(bits.data(), v.data() + first_row * a.cols, bits.size() * 4);
    return bits;
  }
  std::unique_ptr<CudaBackend> gpu_;
};

TEST_F(BatchInvariance, GemmRowsDoNotDependOnTheRowCount) {
  gpu_->SetModelPrecision(DType::kBF16);
  constexpr int64_t kMax = 1000;
  for (auto [n, k] : {std::pair<int64_t, int64_t>{64, 64}, {200, 96}, {1024, 4096}, {4096, 1024}, {128256, 512}}) {
    auto packed = QuantizeLinear(WeightFormat::Dense(16), Random(n * k, 1), n, k);
    ASSERT_TRUE(packed.ok());
    auto lin = gpu_->CreateLinear("w", LinearRole::kProjection, *std::move(packed));
    ASSERT_TRUE(lin.ok());
    Act x = Buffer(kMax, k, DType::kBF16, Random(kMax * k, 2));
    for (DType out : {DType::kF32, DType::kBF16}) {
      Act all = Buffer(kMax, n, out);
      gpu_->Matmul(**lin, x, all);
      const std::vector<uint32_t> want = Bits(all, 0, kMax);
      for (int64_t m : {1, 2, 7, 64, 255, 999}) {
        Act y = Buffer(m, n, out);
        gpu_->Matmul(**lin, x.Rows(m), y);
        const std::vector<uint32_t> got = Bits(y, 0, m);
        ASSERT_TRUE(std::equal(got.begin(), got.end(), want.begin()))
            << n << "x" << k << ": the first " << m << " rows differ from the same rows of " << kMax;
        gpu_->Free(y);
      }
      gpu_->Free(all);
    }
    gpu_->Free(x);
  }
}

// One sample (a shared context with three branches, then a plain sequence)
// scored alone and packed among other sequences of odd lengths: the same
// attention output bits for each of its rows, for every kernel the backend
// runs (wgmma at head dims 64 and 128, mma.sync at 32, the tiled fp32).
TEST_F(BatchInvariance, AttentionDoesNotDependOnPacking) {
  auto add_sample = [](TokenBatch& b) {
    std::vector<int64_t> rows;
    const auto firsts = b.AddShared(std::vector<int32_t>(37, 1), {std::vector<int32_t>(13, 1),
                                                                  std::vector<int32_t>(21, 1),
                                                                  std::vector<int32_t>(5, 1)});
    const int64_t ctx = firsts[0] - 37;
    for (int64_t r = ctx; r < firsts[2] + 5; ++r) rows.push_back(r);
    const int64_t seq = b.AddSequence(std::vector<int32_t>(150, 1));
    for (int64_t r = seq; r < seq + 150; ++r) rows.push_back(r);
    return rows;
  };
  TokenBatch alone, packed;
  alone.align = packed.align = gpu_->SequenceAlignment();
  const std::vector<int64_t> own = add_sample(alone);
  for (int64_t len : {3, 200, 61}) packed.AddSequence(std::vector<int32_t>(len, 1));
  const std::vector<int64_t> placed = add_sample(packed);
  packed.AddSequence(std::vector<int32_t>(77, 1));
  for (auto [hd, dtype] : {std::pair{64, DType::kBF16}, {128, DType::kBF16}, {32, DType::kBF16}, {64, DType::kF32}}) {
    SCOPED_TRACE(::testing::Message() << "head dim " << hd << (dtype == DType::kBF16 ? " bf16" : " fp32"));
    const int64_t hq = 4, hkv = 2;
    // The sample's rows hold the same q, k, v in both batches; the others random.
    auto fill = [&](const TokenBatch& b, const std::vector<int64_t>& rows, int64_t cols, uint32_t seed) {
      std::vector<float> v = Random(b.rows() * cols, seed + 100);
      const std::vector<float> mine = Random(static_cast<int64_t>(rows.size()) * cols, seed);
      for (size_t i = 0; i < rows.size(); ++i)
        std::copy(mine.begin() + i * cols, mine.begin() + (i + 1) * cols, v.begin() + rows[i] * cols);
      return v;
    };
    std::vector<std::vector<uint32_t>> outs;
    for (const auto& [batch, rows] : {std::pair{&alone, &own}, {&packed, &placed}}) {
      gpu_->SetLayout(batch->layout);
      const int64_t n = batch->rows();
      Act q = Buffer(n, hq * hd, dtype, fill(*batch, *rows, hq * hd, 1));
      Act k = Buffer(n, hkv * hd, dtype, fill(*batch, *rows, hkv * hd, 2));
      Act v = Buffer(n, hkv * hd, dtype, fill(*batch, *rows, hkv * hd, 3));
      Act o = Buffer(n, hq * hd, dtype);
      ASSERT_TRUE(gpu_->ReserveScratch(n, 1, {.hidden = 1, .q = hq * hd, .kv = hkv * hd, .head_dim = hd}).ok());
      gpu_->Attention(q, k, v, hd, o);
      std::vector<uint32_t> mine;
      for (int64_t r : *rows) {
        const std::vector<uint32_t> row = Bits(o, r, 1);
        mine.insert(mine.end(), row.begin(), row.end());
      }
      outs.push_back(mine);
      for (Act* a : {&q, &k, &v, &o}) gpu_->Free(*a);
    }
    EXPECT_EQ(outs[0], outs[1]);
  }
}

// The whole forward: a sample's log-probs and top-k, scored alone, among
// others, and with the head's rows split into chunks of another size.
TEST_F(BatchInvariance, ForwardScoresDoNotDependOnTheBatch) {
  const std::string model = testing::RepoTestData("tiny/model").string();
  auto ckpt = OpenCheckpoint(model);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  std::mt19937 rng(5);
  auto tokens = [&](int64_t n) {
    std::vector<int32_t> t(n);
    for (int32_t& x : t) x = static_cast<int32_t>(rng() % vocab);
    return t;
  };
  const std::vector<int32_t> ctx = tokens(29), a = tokens(9), b = tokens(17), seq = tokens(70);
  for (const char* scheme : {"bf16", "w4a16-g32"}) {
    SCOPED_TRACE(scheme);
    std::vector<std::vector<float>> logprobs;
    std::vector<std::vector<int32_t>> topk;
    for (const auto& [others, head_rows] : {std::pair{false, int64_t{512}}, {true, int64_t{512}}, {true, int64_t{16}}}) {
      auto d = Decoder::Load(**ckpt, gpu_.get(), {.scheme = TestScheme(scheme), .max_batch_tokens = 1024,
                                                  .max_head_rows = head_rows});
      ASSERT_TRUE(d.ok()) << d.status();
      TokenBatch batch;
      batch.align = gpu_->SequenceAlignment();
      if (others) {
        batch.AddSequence(tokens(45));
        batch.AddShared(tokens(11), {tokens(3), tokens(30)});
      }
      const std::vector<int64_t> firsts = batch.AddShared(ctx, {a, b});
      const int64_t plain = batch.AddSequence(seq);
      if (others) batch.AddSequence(tokens(101));
      std::vector<int64_t> rows;
      for (int64_t r = firsts[0] - static_cast<int64_t>(ctx.size()); r < firsts[1] + static_cast<int64_t>(b.size()); ++r)
        rows.push_back(r);
      for (int64_t r = plain; r < plain + static_cast<int64_t>(seq.size()); ++r) rows.push_back(r);
      std::vector<int32_t> targets(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) targets[i] = static_cast<int32_t>((rows[i] * 7) % vocab);
      std::vector<LogitStats> chunks;
      ASSERT_TRUE((*d)->Forward(batch, rows, targets, 8, true, &chunks).ok());
      const RowScores s = CombineLogitStats(chunks, 8, true);
      logprobs.push_back(s.logprobs);
      topk.push_back(s.topk_id);
    }
    for (size_t i = 1; i < logprobs.size(); ++i) {
      EXPECT_EQ(std::memcmp(logprobs[i].data(), logprobs[0].data(), logprobs[0].size() * 4), 0) << "case " << i;
      EXPECT_EQ(topk[i], topk[0]) << "case " << i;
    }
  }
}

}  // namespace
}  // namespace qsweep
