#include "eval/generation.h"

#include <numeric>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "eval/tasks/task.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
    ASSERT_TRUE(c.ok()) << c.status();
    ckpt_ = std::move(*c);
    auto t = LoadTokenizer(testing::RepoTestData("tiny/model").string());
    ASSERT_TRUE(t.ok()) << t.status();
    tok_ = std::move(*t);
    Load("bf16", 4);
  }
  void Load(const std::string& scheme, int64_t align) {
    scorer_.reset();
    decoder_.reset();
    backend_ = std::make_unique<AlignedCpuBackend>(align);
    auto d = Decoder::Load(*ckpt_, backend_.get(),
                           {.scheme = TestScheme(scheme), .max_batch_tokens = 256, .cache_rows = 600});
    ASSERT_TRUE(d.ok()) << d.status();
    decoder_ = std::move(*d);
    scorer_ = std::make_unique<LocalScorer>(decoder_.get());
  }
  GenerationOptions Options(int64_t sequences = 32) const {
    return {.tokenizer = tok_.get(), .eos_ids = {tok_->eos_id()}, .max_sequences = sequences};
  }
  GenerationRequest Prompt(const std::string& text, int32_t max_tokens, std::vector<std::string> stop = {}) const {
    GenerationRequest r{.prompt = {tok_->bos_id()}, .max_tokens = max_tokens, .stop = std::move(stop)};
    const std::vector<int32_t> ids = tok_->Encode(text);
    r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
    return r;
  }

  // Greedy decoding without a cache: the whole sequence again for each token.
  std::vector<int32_t> Recomputed(const GenerationRequest& r) {
    std::vector<int32_t> seq = r.prompt, out;
    while (static_cast<int32_t>(out.size()) < r.max_tokens) {
      TokenBatch b;
      b.AddSequence(seq);
      const std::vector<int64_t> rows = {b.rows() - 1};
      const std::vector<int32_t> targets = {0};
      auto s = scorer_->Score(b, rows, targets, 1, false);
      EXPECT_TRUE(s.ok()) << s.status();
      out.push_back(s->topk_id[0]);
      seq.push_back(s->topk_id[0]);
      if (out.back() == tok_->eos_id()) break;
    }
    return out;
  }

  // A CPU backend that asks for aligned sequences, as the GPU's does, so
  // that prefill batches carry padding rows.
  class AlignedCpuBackend : public CpuBackend {
   public:
    explicit AlignedCpuBackend(int64_t align) : align_(align) {}
    int64_t SequenceAlignment() const override { return align_; }

   private:
    int64_t align_;
  };

  std::unique_ptr<Checkpoint> ckpt_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<CpuBackend> backend_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<LocalScorer> scorer_;
};

// The tiny model was trained on "a+b=c<eos>": on held-out sums it answers
// with the sum and stops, which a broken cache (a wrong position, a key
// written to the wrong row, attention over the wrong rows) does not.
TEST_F(GenerationTest, AnswersHeldOutSumsAndStopsAtEos) {
  auto task = tasks::ReadTaskJsonl(testing::RepoTestData("tiny/tasks/add.jsonl").string(), "add");
  ASSERT_TRUE(task.ok()) << task.status();
  std::vector<GenerationRequest> requests;
  std::vector<std::string> answers;
  for (int i = 0; i < 40; ++i) {
    const tasks::McSample& s = task->samples[i];
    requests.push_back(Prompt(s.contexts[0], 8));
    answers.push_back(s.continuations[s.label]);
  }
  GenerationTiming timing;
  auto out = GenerateGreedy(*scorer_, requests, Options(7), &timing);
  ASSERT_TRUE(out.ok()) << out.status();
  int correct = 0, eos = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    correct += (*out)[i].text == answers[i];
    eos += (*out)[i].stop == StopReason::kEos;
    EXPECT_EQ((*out)[i].tokens.size(), (*out)[i].logprobs.size());
  }
  EXPECT_GE(correct, 32) << "of 40";
  EXPECT_GE(eos, 38);
  EXPECT_EQ(timing.generated_tokens,
            std::accumulate(out->begin(), out->end(), int64_t{0},
                            [](int64_t n, const GenerationResult& r) { return n + int64_t(r.tokens.size()); }));
  EXPECT_GT(timing.decode_steps, 0);
}

// Cached decoding gives exactly the tokens of recomputing every sequence
// whole, whatever the grouping of sequences into steps (one at a time, or
// many in one batch with aligned padding rows between their prompts).
TEST_F(GenerationTest, CachedEqualsRecomputedForEveryGrouping) {
  std::mt19937 rng(3);
  std::vector<GenerationRequest> requests;
  const char* prompts[] = {"12+57=", "rev abcd", "z=3 l=2 m=7 v=2 ; m?", "max 3 9 2 3", "7+8=", "q"};
  for (int i = 0; i < 12; ++i) requests.push_back(Prompt(prompts[i % 6], 3 + static_cast<int32_t>(rng() % 10)));
  std::vector<std::vector<int32_t>> expected;
  for (const auto& r : requests) expected.push_back(Recomputed(r));
  for (int64_t sequences : {1, 5, 32}) {
    auto out = GenerateGreedy(*scorer_, requests, Options(sequences));
    ASSERT_TRUE(out.ok()) << out.status();
    for (size_t i = 0; i < requests.size(); ++i)
      EXPECT_EQ((*out)[i].tokens, expected[i]) << "request " << i << " with " << sequences << " per group";
  }
}

TEST_F(GenerationTest, QuantizedSchemeAlsoEqualsRecomputed) {
  Load("w4a16-g32", 1);
  std::vector<GenerationRequest> requests = {Prompt("45+19=", 6), Prompt("rev mnop", 7), Prompt("x", 12)};
  auto out = GenerateGreedy(*scorer_, requests, Options(2));
  ASSERT_TRUE(out.ok()) << out.status();
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ((*out)[i].tokens, Recomputed(requests[i]));
}

TEST_F(GenerationTest, StopStringsAndTokenLimit) {
  // "rev abcd" answers ":dcba": stopping at "c" leaves ":d".
  auto out = GenerateGreedy(*scorer_, std::vector{Prompt("rev abcd", 10, {"c"}), Prompt("rev abcd", 2)}, Options());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].stop, StopReason::kStopString);
  EXPECT_EQ((*out)[0].text.find('c'), std::string::npos);
  EXPECT_EQ((*out)[1].stop, StopReason::kLength);
  EXPECT_EQ((*out)[1].tokens.size(), 2u);
  EXPECT_EQ(FirstStop("abc\nQuestion: x", std::vector<std::string>{"Question:", "\n"}), 3u);
  EXPECT_EQ(FirstStop("abc", std::vector<std::string>{"z"}), std::string::npos);
}

TEST_F(GenerationTest, BadRequestsAreErrors) {
  GenerationRequest empty{.prompt = {}, .max_tokens = 4, .stop = {}};
  auto a = GenerateGreedy(*scorer_, std::vector{empty}, Options());
  EXPECT_THAT(a.status().message(), HasSubstr("prompt is empty"));
  auto b = GenerateGreedy(*scorer_, std::vector{Prompt("1+1=", 0)}, Options());
  EXPECT_THAT(b.status().message(), HasSubstr("max_tokens 0"));
  auto c = GenerateGreedy(*scorer_, std::vector{Prompt("1+1=", 1000)}, Options());
  EXPECT_THAT(c.status().message(), HasSubstr("do not fit the KV cache"));
  // A layout outside the cache is refused by the decoder, not written.
  TokenBatch step;
  step.AddSequence(std::vector<int32_t>{5});
  step.layout.cache_row = {600};
  step.layout.cache_begin = {0};
  const std::vector<int64_t> rows = {0};
  const std::vector<int32_t> targets = {0};
  EXPECT_THAT(scorer_->Score(step, rows, targets, 1, false).status().message(), HasSubstr("KV cache row 600"));
  // A decode step of more rows than backends keep row-invariant kernels for.
  TokenBatch wide;
  std::vector<int64_t> wide_rows;
  for (int64_t i = 0; i <= kMaxDecodeRows; ++i) {
    wide.AddSequence(std::vector<int32_t>{5});
    wide.layout.cache_row.push_back(i);
    wide.layout.cache_begin.push_back(i);
    wide_rows.push_back(i);
  }
  const std::vector<int32_t> wide_targets(wide_rows.size(), 0);
  EXPECT_THAT(scorer_->Score(wide, wide_rows, wide_targets, 1, false).status().message(),
              HasSubstr("a decode step of 65 rows"));
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

// A model whose logits are NaN from the second step on (a broken scheme):
// each sequence ends there, the NaN step's token left out.
class NanAfterFirstStep : public LogitScorer {
 public:
  int64_t vocab_size() const override { return 50; }
  int64_t max_batch_tokens() const override { return 256; }
  int64_t cache_rows() const override { return 256; }
  absl::StatusOr<RowScores> Score(const TokenBatch& batch, std::span<const int64_t> rows, std::span<const int32_t>,
                                  int topk, bool, const RowPairing&) override {
    RowScores s;
    s.rows = static_cast<int64_t>(rows.size());
    s.topk = topk;
    const bool nan = batch.layout.reads_cache();
    s.topk_id.assign(rows.size(), nan ? -1 : 7);
    s.topk_logprob.assign(rows.size(), nan ? NAN : -0.5f);
    return s;
  }
};

TEST(Generation, NanLogitsEndTheSequence) {
  NanAfterFirstStep scorer;
  const std::vector<GenerationRequest> requests = {{.prompt = {1, 2, 3}, .max_tokens = 5, .stop = {}},
                                                   {.prompt = {4}, .max_tokens = 5, .stop = {}}};
  auto out = GenerateGreedy(scorer, requests, {.tokenizer = nullptr, .eos_ids = {}, .max_sequences = 2});
  ASSERT_TRUE(out.ok()) << out.status();
  for (const GenerationResult& r : *out) {
    EXPECT_EQ(r.tokens, std::vector<int32_t>{7});
    EXPECT_EQ(r.stop, StopReason::kNoFiniteLogit);
  }
}

}  // namespace
}  // namespace qsweep
