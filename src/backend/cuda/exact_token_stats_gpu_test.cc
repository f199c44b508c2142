// Exact token statistics on the GPU: the baseline's bf16 hidden states kept,
// a candidate's forward recomputing the baseline's logits from them and
// comparing on the device (kernels/pair_logit_stats.cuh), against an fp64
// recomputation from both models' fp32 full log-prob rows (the GPU's own).
// Runs on the GPU machine; skipped where there is no GPU.
#include <cmath>

#include <gtest/gtest.h>

#include "backend/cuda/cuda_backend.h"
#include "model/decoder.h"
#include "model/full_row_kl_for_test.h"
#include "model/row_scores.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

struct Scored {
  RowScores scores;
  std::vector<float> hidden;
};


class ExactTokenStatsGpuTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!CudaBackend::Create().ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
    auto ckpt = OpenCheckpoint(testing::RepoTestData(GetParam()).string());
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    ckpt_ = std::move(*ckpt);
    const int64_t v = ckpt_->config().vocab_size;
    uint64_t state = 3;
    for (int64_t len : {200, 33, 96}) {  // rows past one head chunk (max_head_rows 64)
      std::vector<int32_t> seq;
      for (int64_t i = 0; i < len; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        seq.push_back(static_cast<int32_t>((state >> 33) % v));
      }
      const int64_t first = batch_.AddSequence(seq);
      for (int64_t i = 0; i + 1 < len; ++i) {
        rows_.push_back(first + i);
        targets_.push_back(seq[i + 1]);
      }
    }
    batch_.align = 8;
  }

  Scored Run(const std::string& scheme, bool baseline, std::span<const float> base_hidden) {
    auto backend = CudaBackend::Create();
    EXPECT_TRUE(backend.ok());
    DecoderOptions options;
    options.scheme = TestScheme(scheme);
    options.max_batch_tokens = 512;
    options.max_head_rows = 64;
    if (!baseline) options.pair_baseline = TestScheme("bf16");
    auto d = Decoder::Load(*ckpt_, backend->get(), options);
    EXPECT_TRUE(d.ok()) << d.status();
    Scored out;
    if (!d.ok()) return out;
    RowPairing pairing;
    pairing.keep_hidden = baseline;
    pairing.base_hidden = base_hidden;
    std::vector<LogitStats> chunks;
    const absl::Status s = (*d)->Forward(batch_, rows_, targets_, 4, true, &chunks, pairing, &out.hidden);
    EXPECT_TRUE(s.ok()) << s;
    out.scores = CombineLogitStats(chunks, 4, true);
    return out;
  }

  std::unique_ptr<Checkpoint> ckpt_;
  TokenBatch batch_;
  std::vector<int64_t> rows_;
  std::vector<int32_t> targets_;
};

TEST_P(ExactTokenStatsGpuTest, MatchesAnFp64RecomputationFromTheGpusFullRows) {
  const int64_t v = ckpt_->config().vocab_size, n = static_cast<int64_t>(rows_.size());
  const Scored b = Run("bf16", true, {});
  ASSERT_EQ(static_cast<int64_t>(b.hidden.size()), n * ckpt_->config().hidden_size);
  for (const char* scheme : {"w4a16-g32", "w8a8", "bf16"}) {
    SCOPED_TRACE(scheme);
    const Scored c = Run(scheme, false, b.hidden);
    const RowScores& cs = c.scores;
    ASSERT_EQ(static_cast<int64_t>(cs.kl_base_cand.size()), n);
    double got = 0, want = 0, worst = 0;
    for (int64_t t = 0; t < n; ++t) {
      const double kl = testing::KlFromRows(&b.scores.logprobs[t * v], &cs.logprobs[t * v], v);
      const double back = testing::KlFromRows(&cs.logprobs[t * v], &b.scores.logprobs[t * v], v);
      EXPECT_NEAR(cs.kl_base_cand[t], kl, 1e-5) << t;
      EXPECT_NEAR(cs.kl_cand_base[t], back, 1e-5) << t;
      // The baseline's logits recomputed from its hidden states are the ones it computed.
      EXPECT_NEAR(cs.base_nll[t], -b.scores.target_logprob[t], 1e-5) << t;
      EXPECT_EQ(cs.base_top1[t], b.scores.topk_id[t * 4]) << t;
      got += cs.kl_base_cand[t];
      want += kl;
      worst = std::max(worst, std::fabs(cs.kl_base_cand[t] - kl));
    }
    if (std::string(scheme) == "bf16") {
      for (int64_t t = 0; t < n; ++t) EXPECT_EQ(cs.kl_base_cand[t], 0.0) << t;  // the baseline against itself
    } else {
      EXPECT_GT(want, 0.0);
      EXPECT_NEAR(got, want, 1e-6 * want);
    }
    std::printf("%s %s: mean KL %.6e (fp64 from rows %.6e), worst token |diff| %.1e\n", GetParam(), scheme, got / n,
                want / n, worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ExactTokenStatsGpuTest, ::testing::Values("tiny/model", "models/llama3_features"));

}  // namespace
}  // namespace qsweep
