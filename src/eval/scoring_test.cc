#include <cmath>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "eval/choice_scoring.h"
#include "eval/perplexity_scoring.h"
#include "scheme_for_test.h"

namespace qsweep {
namespace {

// Log p of every token of `seq` after the first, from one plain forward.
std::vector<float> SequenceLogProbs(Decoder& d, const std::vector<int32_t>& seq) {
  TokenBatch b;
  b.AddSequence(seq);
  std::vector<int64_t> rows(seq.size() - 1);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> targets(seq.begin() + 1, seq.end());
  std::vector<LogitStats> stats;
  EXPECT_TRUE(d.Forward(b, rows, targets, 0, false, &stats).ok());
  return CombineLogitStats(stats, 0, false).target_logprob;
}

class ScoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = OpenCheckpoint("synthetic:tiny@21");
    ASSERT_TRUE(c.ok()) << c.status();
    ckpt_ = std::move(*c);
    auto d = Decoder::Load(*ckpt_, &backend_, {.scheme = TestScheme("fp32"), .max_batch_tokens = 40});
    ASSERT_TRUE(d.ok()) << d.status();
    decoder_ = std::move(*d);
  }
  std::unique_ptr<Checkpoint> ckpt_;
  CpuBackend backend_;
  std::unique_ptr<Decoder> decoder_;
};

TEST_F(ScoringTest, ChoicesEqualStraightforwardSumsOfSeparateSequences) {
  std::mt19937 rng(5);
  auto tokens = [&](int n) {
    std::vector<int32_t> v(n);
    for (auto& t : v) t = static_cast<int32_t>(rng() % 512);
    return v;
  };
  std::vector<McSampleRequest> samples;
  for (int i = 0; i < 12; ++i) {
    McSampleRequest s;
    s.sample_id = 100 + i;
    const int choices = 2 + i % 3;
    s.label = i % choices;
    const bool partial = i % 4 == 3;  // per-choice contexts
    for (int c = 0; c < (partial ? choices : 1); ++c) s.contexts.push_back(tokens(1 + rng() % 6));
    for (int c = 0; c < choices; ++c) {
      s.continuations.push_back(tokens(1 + rng() % 4));
      s.continuation_bytes.push_back(3 + c);
    }
    samples.push_back(s);
  }
  LocalScorer scorer(decoder_.get());
  auto rows = ScoreChoices(scorer, samples, 4);  // capacity 40 tokens forces several batches
  ASSERT_TRUE(rows.ok()) << rows.status();
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    EXPECT_EQ(rows->n_choices[i], s.choices());
    for (int64_t c = 0; c < 4; ++c) {
      const double got = rows->choice_logprob[i * 4 + c];
      if (c >= s.choices()) {
        EXPECT_TRUE(std::isnan(got));
        continue;
      }
      std::vector<int32_t> seq = s.context(c);
      seq.insert(seq.end(), s.continuations[c].begin(), s.continuations[c].end());
      const std::vector<float> lp = SequenceLogProbs(*decoder_, seq);
      double want = 0;
      for (size_t j = s.context(c).size() - 1; j < lp.size(); ++j) want += lp[j];
      EXPECT_NEAR(got, want, 1e-4) << "sample " << i << " choice " << c;
      EXPECT_EQ(rows->choice_tokens[i * 4 + c], static_cast<int32_t>(s.continuations[c].size()));
      EXPECT_EQ(rows->choice_bytes[i * 4 + c], 3 + c);
    }
  }
}

TEST_F(ScoringTest, SampleLargerThanTheBatchIsAnError) {
  McSampleRequest s;
  s.contexts = {std::vector<int32_t>(41, 1)};
  s.continuations = {{2}};
  s.continuation_bytes = {1};
  LocalScorer scorer(decoder_.get());
  auto rows = ScoreChoices(scorer, {&s, 1}, 1);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("capacity"), std::string::npos);
}

TEST(PplWindows, KnownAnswer) {
  // 10 tokens, window 4, stride 2: feeds [0,4) [2,6) [4,8) [6,10) and scores
  // 1-3, 4-5, 6-7, 8-9.
  const auto w = PplWindows(10, 4, 2);
  ASSERT_EQ(w.size(), 4u);
  const int64_t want[4][3] = {{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w[i].begin, want[i][0]);
    EXPECT_EQ(w[i].end, want[i][1]);
    EXPECT_EQ(w[i].score_from, want[i][2]);
  }
}

TEST(PplWindows, EveryTokenScoredOnceWithEnoughContext) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 2 + rng() % 300, window = 2 + rng() % 64, stride = 1 + rng() % (window - 1);
    std::vector<int> seen(n, 0);
    bool first = true;
    for (const auto& w : PplWindows(n, window, stride)) {
      ASSERT_LE(w.end - w.begin, window);
      for (int64_t t = w.score_from; t < w.end; ++t) {
        ++seen[t];
        if (!first) {
          EXPECT_GE(t - w.begin, window - stride);
        }
      }
      first = false;
    }
    EXPECT_EQ(seen[0], 0);
    for (int64_t t = 1; t < n; ++t) ASSERT_EQ(seen[t], 1) << "n=" << n << " t=" << t;
  }
}

TEST_F(ScoringTest, WindowScoresEqualPlainForwardOfEachWindow) {
  PplCorpusRequests corpus;
  corpus.name = "c";
  std::mt19937 rng(2);
  for (int i = 0; i < 50; ++i) corpus.tokens.push_back(static_cast<int32_t>(rng() % 512));
  corpus.window = 16;
  corpus.stride = 8;
  const auto windows = PplWindows(50, 16, 8);
  LocalScorer scorer(decoder_.get());
  auto rows = ScoreWindows(scorer, corpus, windows, 3, true);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->tokens, 49);
  int64_t i = 0;
  for (const auto& w : windows) {
    const std::vector<int32_t> seq(corpus.tokens.begin() + w.begin, corpus.tokens.begin() + w.end);
    const std::vector<float> lp = SequenceLogProbs(*decoder_, seq);
    for (int64_t t = w.score_from; t < w.end; ++t, ++i) {
      EXPECT_EQ(rows->token_id[i], corpus.tokens[t]);
      EXPECT_NEAR(rows->nll[i], -lp[t - 1 - w.begin], 1e-4);
      EXPECT_GE(rows->topk_logprob[i * 3], rows->topk_logprob[i * 3 + 1]);
      // The full row holds the target's log-prob too (fp16).
      EXPECT_NEAR(F16ToFloat(rows->logprob_f16[i * 512 + corpus.tokens[t]]), -rows->nll[i], 1e-2);
    }
  }
}

}  // namespace
}  // namespace qsweep
