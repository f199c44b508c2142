// Exact token statistics through the decoder: a baseline keeps its final
// hidden states; a candidate recomputes the baseline's logits from them with
// the baseline's head and compares on the backend. Checked against an fp64
// recomputation from both models' fp32 full log-prob rows.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/decoder.h"
#include "model/full_row_kl_for_test.h"
#include "model/row_scores.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

using testing::RepoTestData;

RowPairing Keep() {
  RowPairing p;
  p.keep_hidden = true;
  return p;
}

RowPairing Against(std::span<const float> hidden) {
  RowPairing p;
  p.base_hidden = hidden;
  return p;
}

struct Scored {
  RowScores scores;
  std::vector<float> hidden;
};

class ExactTokenStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ckpt = OpenCheckpoint(RepoTestData("tiny/model").string());
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    ckpt_ = std::move(*ckpt);
    const int64_t v = ckpt_->config().vocab_size;
    // Three sequences of pseudo-random tokens; every row scored against the next token.
    uint64_t state = 7;
    for (int64_t len : {37, 64, 5}) {
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
  }

  std::unique_ptr<Decoder> Load(const std::string& scheme, const std::optional<std::string>& baseline) {
    DecoderOptions options;
    options.scheme = TestScheme(scheme);
    options.max_head_rows = 32;
    if (baseline) options.pair_baseline = TestScheme(*baseline);
    auto d = Decoder::Load(*ckpt_, &backend_, options);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? std::move(*d) : nullptr;
  }

  Scored Score(Decoder& d, const RowPairing& pairing) {
    Scored out;
    std::vector<LogitStats> chunks;
    const absl::Status s = d.Forward(batch_, rows_, targets_, 4, true, &chunks, pairing, &out.hidden);
    EXPECT_TRUE(s.ok()) << s;
    out.scores = CombineLogitStats(chunks, 4, true);
    return out;
  }

  std::unique_ptr<Checkpoint> ckpt_;
  CpuBackend backend_;
  TokenBatch batch_;
  std::vector<int64_t> rows_;
  std::vector<int32_t> targets_;
};


TEST_F(ExactTokenStatsTest, MatchesAnFp64RecomputationFromFullRows) {
  const int64_t v = ckpt_->config().vocab_size, n = static_cast<int64_t>(rows_.size());
  auto base = Load("bf16", std::nullopt);
  ASSERT_TRUE(base);
  const Scored b = Score(*base, Keep());
  ASSERT_EQ(static_cast<int64_t>(b.hidden.size()), n * ckpt_->config().hidden_size);
  // The quantized schemes share the baseline's bf16 head; fp32 loads the
  // baseline's head beside its own (the tiny model's weights are bf16
  // values, so its KL is 0, which the statistics must give too).
  for (const std::string scheme : {"w4a16-g32", "w2a16-g32", "fp32"}) {
    SCOPED_TRACE(scheme);
    auto cand = Load(scheme, "bf16");
    ASSERT_TRUE(cand);
    const Scored c = Score(*cand, Against(b.hidden));
    const RowScores& cs = c.scores;
    ASSERT_EQ(static_cast<int64_t>(cs.kl_base_cand.size()), n);
    double mean_got = 0, mean_want = 0, mean_back_got = 0, mean_back_want = 0;
    for (int64_t t = 0; t < n; ++t) {
      const float* lb = &b.scores.logprobs[t * v];
      const float* lc = &cs.logprobs[t * v];
      const double want = testing::KlFromRows(lb, lc, v), back = testing::KlFromRows(lc, lb, v);
      EXPECT_NEAR(cs.kl_base_cand[t], want, 1e-5) << t;
      EXPECT_NEAR(cs.kl_cand_base[t], back, 1e-5) << t;
      EXPECT_NEAR(cs.base_nll[t], -b.scores.target_logprob[t], 1e-5) << t;
      EXPECT_NEAR(cs.cand_nll[t], -cs.target_logprob[t], 1e-5) << t;
      EXPECT_EQ(cs.base_top1[t], b.scores.topk_id[t * 4]) << t;
      mean_got += cs.kl_base_cand[t] / n;
      mean_want += want / n;
      mean_back_got += cs.kl_cand_base[t] / n;
      mean_back_want += back / n;
    }
    if (scheme != "fp32") {
      EXPECT_GT(mean_want, 1e-6);  // the schemes do differ from the baseline
    }
    EXPECT_NEAR(mean_got, mean_want, 1e-6 * mean_want + 1e-12);
    EXPECT_NEAR(mean_back_got, mean_back_want, 1e-6 * mean_back_want + 1e-12);
  }
}

TEST_F(ExactTokenStatsTest, TheBaselineAgainstItselfIsExactlyZero) {
  auto base = Load("bf16", std::nullopt);
  auto again = Load("bf16", "bf16");
  ASSERT_TRUE(base && again);
  const Scored b = Score(*base, Keep());
  const Scored c = Score(*again, Against(b.hidden));
  for (size_t t = 0; t < rows_.size(); ++t) {
    EXPECT_EQ(c.scores.kl_base_cand[t], 0.0) << t;
    EXPECT_EQ(c.scores.kl_cand_base[t], 0.0) << t;
    EXPECT_EQ(c.scores.base_nll[t], c.scores.cand_nll[t]) << t;
    EXPECT_EQ(c.scores.base_top1[t], c.scores.topk_id[t * 4]) << t;
  }
}

TEST(ExactTokenStatsCombine, VocabularyChunksCombineToTheWholeRowsStatistics) {
  // One slice of the whole vocabulary against eight (what tp ranks and the
  // canonical chunks give): the same statistics within fp64 rounding, the
  // same argmax, including a tie for the maximum across two chunks.
  CpuBackend cpu;
  const int64_t n = 5, v = 203;
  uint64_t state = 11;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) / double(1 << 24));
  };
  auto b = cpu.Alloc(n, v);
  auto c = cpu.Alloc(n, v);
  ASSERT_TRUE(b.ok() && c.ok());
  std::vector<float> bv(n * v), cv(n * v);
  for (int64_t i = 0; i < n * v; ++i) {
    bv[i] = 20.0f * uniform() - 10.0f;
    cv[i] = bv[i] + 0.5f * (uniform() - 0.5f) + (i / v == 2 ? 3.0f : 0.0f);  // row 2: a shifted candidate
  }
  bv[1 * v + 10] = bv[1 * v + 150] = 30.0f;  // row 1: the maximum tied in chunks 0 and 5
  cpu.UploadTo(bv, *b);
  cpu.UploadTo(cv, *c);
  std::vector<int32_t> targets = {0, 150, 7, 202, 99};
  auto stats = [&](int chunks) {
    std::vector<LogitStats> all(chunks);
    for (int k = 0; k < chunks; ++k) {
      const int64_t lo = v * k / chunks, hi = v * (k + 1) / chunks;
      cpu.LogitStatistics(*c, lo, hi, targets, 2, false, lo, &all[k]);
      cpu.PairLogitStatistics(*b, *c, lo, hi, targets, lo, &all[k]);
    }
    return CombineLogitStats(all, 2, false);
  };
  const RowScores one = stats(1), eight = stats(8);
  for (int64_t r = 0; r < n; ++r) {
    EXPECT_NEAR(eight.kl_base_cand[r], one.kl_base_cand[r], 1e-12 * (1 + one.kl_base_cand[r])) << r;
    EXPECT_NEAR(eight.kl_cand_base[r], one.kl_cand_base[r], 1e-12 * (1 + one.kl_cand_base[r])) << r;
    EXPECT_NEAR(eight.base_nll[r], one.base_nll[r], 1e-12 * (1 + one.base_nll[r])) << r;
    EXPECT_NEAR(eight.cand_nll[r], one.cand_nll[r], 1e-12 * (1 + one.cand_nll[r])) << r;
    EXPECT_EQ(eight.base_top1[r], one.base_top1[r]) << r;
    EXPECT_GT(one.kl_base_cand[r], 0.0) << r;
  }
  EXPECT_EQ(one.base_top1[1], 10);  // the lower id of a tie
  // A constant shift of the candidate's logits changes no probability: row
  // 2's KL is the noise's alone, far below the shift.
  EXPECT_LT(one.kl_base_cand[2], 0.1);
  cpu.Free(*b);
  cpu.Free(*c);
}

TEST_F(ExactTokenStatsTest, RefusesHiddenStatesOfTheWrongShape) {
  auto cand = Load("w4a16-g32", "bf16");
  ASSERT_TRUE(cand);
  std::vector<float> short_hidden(rows_.size() * ckpt_->config().hidden_size - 1, 0.0f);
  std::vector<LogitStats> chunks;
  const absl::Status s = cand->Forward(batch_, rows_, targets_, 4, false, &chunks, Against(short_hidden));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("hidden states"), std::string::npos) << s;
}

}  // namespace
}  // namespace qsweep
