#include "model/decoder.h"

#include <barrier>
#include <cmath>
#include <fstream>
#include <numeric>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "backend/cpu/cpu_backend.h"
#include "model/forwarding_checkpoint_for_test.h"
#include "model/held_weights.h"
#include "model/row_scores.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

using testing::RepoTestData;
using testing::SharedData;

struct Golden {
  std::vector<std::vector<int32_t>> sequences;
  int64_t vocab = 0;
  std::vector<float> logprobs;  // [total tokens, vocab]
};

Golden ReadGolden(const std::filesystem::path& dir) {
  Golden g;
  std::ifstream meta(dir / "golden.json");
  EXPECT_TRUE(meta.good()) << dir;
  const auto j = nlohmann::json::parse(meta);
  g.sequences = j["sequences"].get<std::vector<std::vector<int32_t>>>();
  g.vocab = j["vocab"].get<int64_t>();
  std::ifstream bin(dir / "golden_logprobs.f32", std::ios::binary | std::ios::ate);
  g.logprobs.resize(bin.tellg() / sizeof(float));
  bin.seekg(0);
  bin.read(reinterpret_cast<char*>(g.logprobs.data()), g.logprobs.size() * sizeof(float));
  return g;
}

// Full log-softmax rows of every position of every sequence.
RowScores LogProbs(Decoder& d, const TokenBatch& batch) {
  std::vector<int64_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> targets(batch.tokens.begin(), batch.tokens.end());
  std::vector<LogitStats> stats;
  EXPECT_TRUE(d.Forward(batch, rows, targets, 4, true, &stats).ok());
  return CombineLogitStats(stats, 4, true);
}

// Max relative L2 error of log-prob rows, per sequence, against the golden.
double MaxRelativeL2(const std::string& model, const std::filesystem::path& golden_dir) {
  const Golden g = ReadGolden(golden_dir);
  auto ckpt = OpenCheckpoint(model);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  if (!ckpt.ok()) return INFINITY;
  CpuBackend backend;
  auto d = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("fp32")});
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return INFINITY;
  TokenBatch batch;
  std::vector<int64_t> offsets;
  for (const auto& s : g.sequences) offsets.push_back(batch.AddSequence(s));
  offsets.push_back(batch.rows());
  const RowScores got = LogProbs(**d, batch);
  EXPECT_EQ(got.logprobs.size(), g.logprobs.size());
  if (got.logprobs.size() != g.logprobs.size()) return INFINITY;
  double worst = 0;
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    double err = 0, ref = 0;
    for (int64_t i = offsets[s] * g.vocab; i < offsets[s + 1] * g.vocab; ++i) {
      err += std::pow(double{got.logprobs[i]} - g.logprobs[i], 2);
      ref += std::pow(double{g.logprobs[i]}, 2);
    }
    worst = std::max(worst, std::sqrt(err / ref));
  }
  return worst;
}

TEST(DecoderGolden, Stories260KMatchesTransformers) {
  QSWEEP_REQUIRE_FILE(SharedData("models/stories260K/stories260K.bin"));
  EXPECT_LE(MaxRelativeL2(SharedData("models/stories260K/stories260K.bin"),
                          RepoTestData("models/stories260K")),
            1e-4);
}

TEST(DecoderGolden, Llama3FeaturesMatchesTransformers) {
  // rope llama3 scaling, GQA, untied head, head_dim 32 != hidden 64 / 4 heads
  EXPECT_LE(MaxRelativeL2(RepoTestData("models/llama3_features"), RepoTestData("models/llama3_features")),
            1e-4);
}

TEST(DecoderGolden, Qwen2FeaturesMatchesTransformers) {
  // q/k/v bias, tied embeddings, rope theta 1e6
  EXPECT_LE(MaxRelativeL2(RepoTestData("models/qwen2_features"), RepoTestData("models/qwen2_features")),
            1e-4);
}

// A CPU backend that claims a device with `free` bytes.
class BackendWithFreeMemory : public CpuBackend {
 public:
  explicit BackendWithFreeMemory(int64_t free) : free_(free) {}
  int64_t FreeMemoryBytes() const override { return free_; }

 private:
  int64_t free_;
};

TEST(Decoder, AutoBatchTokensFollowFreeMemoryAndTheGroupsAgreement) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@5");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CpuBackend host;  // reports no device: the default
  auto d = Decoder::Load(**ckpt, &host, {.scheme = TestScheme("fp32"), .max_batch_tokens = 0});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->options().max_batch_tokens, 4096);
  EXPECT_NE((*d)->memory_plan().find("default"), std::string::npos) << (*d)->memory_plan();

  // More memory, more tokens: multiples of 256, capped at 65536. (A tenth
  // of the free memory and 512 MiB stay in reserve.)
  int64_t previous = 0;
  for (int64_t mib : {600, 620, 660}) {
    BackendWithFreeMemory device(mib << 20);
    auto g = Decoder::Load(**ckpt, &device, {.scheme = TestScheme("fp32"), .max_batch_tokens = 0});
    ASSERT_TRUE(g.ok()) << g.status();
    const int64_t t = (*g)->options().max_batch_tokens;
    EXPECT_EQ(t % 256, 0);
    EXPECT_GT(t, previous);
    EXPECT_LE(t, 65536);
    previous = t;
  }
  int64_t asked = 0;
  BackendWithFreeMemory device(int64_t{660} << 20);
  auto g = Decoder::Load(**ckpt, &device,
                         {.scheme = TestScheme("fp32"), .max_batch_tokens = 0, .agree_batch_tokens = [&](int64_t t) {
                            asked = t;
                            return int64_t{512};
                          }});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GT(asked, 512);
  EXPECT_EQ((*g)->options().max_batch_tokens, 512);
  // A fixed size is kept as it is, whatever the memory.
  auto fixed = Decoder::Load(**ckpt, &device, {.scheme = TestScheme("fp32"), .max_batch_tokens = 300});
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)->options().max_batch_tokens, 300);
  // ... unless it cannot fit: refused before anything is allocated, also
  // where the product of tokens and bytes would overflow.
  for (int64_t tokens : {int64_t{1} << 20, int64_t{1} << 62}) {
    auto huge = Decoder::Load(**ckpt, &device, {.scheme = TestScheme("fp32"), .max_batch_tokens = tokens});
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(huge.status().message().find(absl::StrFormat("scoring.batch_tokens %d needs", tokens)), std::string::npos)
        << huge.status();
  }
  // Too little memory for 256 tokens: a clear error, not a tiny batch.
  BackendWithFreeMemory small(int64_t{570} << 20);
  auto none = Decoder::Load(**ckpt, &small, {.scheme = TestScheme("fp32"), .max_batch_tokens = 0});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("too little device memory"), std::string::npos) << none.status();
}

// A scheme given as a YAML spec: overrides that quantize every layer equal
// the plain scheme, and overrides that match no layer equal the dense base.
TEST(Decoder, OverrideSpecsEqualThePlainSchemesTheyAmountTo) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@5");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  TokenBatch batch;
  batch.AddSequence(std::vector<int32_t>{1, 5, 9, 200, 3, 7, 7, 100});
  auto logprobs = [&](const std::string& scheme) {
    CpuBackend backend;
    auto d = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme(scheme)});
    EXPECT_TRUE(d.ok()) << d.status();
    return LogProbs(**d, batch).logprobs;
  };
  const auto w4 = logprobs("w4a16-g32"), bf16 = logprobs("bf16");
  EXPECT_EQ(logprobs("scheme: bf16\noverrides: [{layers: 0-, format: w4a16-g32}]\n"), w4);
  EXPECT_EQ(logprobs("scheme: bf16\noverrides: [{layers: 99-, format: w4a16-g32}]\n"), bf16);
  const auto first = logprobs("scheme: bf16\noverrides: [{layers: 0, format: w4a16-g32}]\n");
  EXPECT_NE(first, w4);
  EXPECT_NE(first, bf16);
}

// A checkpoint whose one tensor holds a non-finite value.
class PoisonedCheckpoint : public testing::ForwardingCheckpoint {
 public:
  PoisonedCheckpoint(std::unique_ptr<Checkpoint> inner, std::string tensor, float value)
      : ForwardingCheckpoint(std::move(inner)), tensor_(std::move(tensor)), value_(value) {}
  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override {
    absl::Status s = inner().ReadSlice(name, axis, begin, end, out);
    if (s.ok() && name == tensor_ && out.size() > 3) out[3] = value_;
    return s;
  }
  // Stored as int8 g32 (as a GGUF's Q8_0 would be), the poisoned tensor's
  // first scale the value.
  absl::StatusOr<std::optional<QuantizedWeights>> ReadStoredRows(std::string_view name, int64_t begin,
                                                                 int64_t end) const override {
    const TensorInfo* t = Find(name);
    if (name != tensor_ || t->shape.size() != 2) return std::nullopt;
    std::vector<float> w((end - begin) * t->shape[1]);
    QSWEEP_RETURN_IF_ERROR(inner().ReadSlice(name, 0, begin, end, w));
    WeightFormat f;
    f.kind = WeightKind::kInt, f.bits = 8, f.group = 32;
    QuantizedWeights q = QuantizeWeights(f, w, end - begin, t->shape[1]);
    q.scales[0] = FloatToF16(value_);
    return q;
  }

 private:
  std::string tensor_;
  float value_;
};

TEST(Decoder, NonFiniteWeightsAreRefusedAtLoad) {
  for (const char* tensor : {"model.layers.1.mlp.down_proj.weight", "model.embed_tokens.weight",
                             "model.layers.0.self_attn.q_proj.weight"})
    for (float value : {NAN, INFINITY}) {
      auto inner = OpenCheckpoint("synthetic:tiny@5");
      ASSERT_TRUE(inner.ok());
      PoisonedCheckpoint ckpt(*std::move(inner), tensor, value);
      CpuBackend backend;
      auto d = Decoder::Load(ckpt, &backend, {.scheme = TestScheme("w4a16-g32")});
      ASSERT_FALSE(d.ok()) << tensor;
      EXPECT_NE(d.status().message().find(absl::StrFormat("tensor '%s' holds", tensor)), std::string::npos)
          << d.status();
      EXPECT_NE(d.status().message().find("the checkpoint is damaged"), std::string::npos);
      // Read as bf16 blocks for a held copy (the device path's reads).
      HeldWeights held(&ckpt);
      CpuBackend again;
      auto h = Decoder::Load(ckpt, &again, {.scheme = TestScheme("bf16"), .held = &held});
      ASSERT_FALSE(h.ok()) << tensor;
      EXPECT_NE(h.status().message().find(absl::StrFormat("tensor '%s' holds", tensor)), std::string::npos)
          << h.status();
    }
}

// Weights loaded packed as stored (a GGUF's Q8_0) with a NaN or infinite
// scale: refused the same way.
TEST(Decoder, NonFiniteStoredScalesAreRefusedAtLoad) {
  for (float value : {NAN, INFINITY}) {
    auto inner = OpenCheckpoint("synthetic:tiny@5");
    ASSERT_TRUE(inner.ok());
    PoisonedCheckpoint ckpt(*std::move(inner), "model.layers.0.mlp.up_proj.weight", value);
    CpuBackend backend;
    auto d = Decoder::Load(ckpt, &backend, {.scheme = TestScheme("bf16"), .stored_formats = true});
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.status().message().find("tensor 'model.layers.0.mlp.up_proj.weight' holds a scale of"),
              std::string::npos)
        << d.status();
    EXPECT_NE(d.status().message().find("the checkpoint is damaged"), std::string::npos);
  }
  auto inner = OpenCheckpoint("synthetic:tiny@5");
  ASSERT_TRUE(inner.ok());
  PoisonedCheckpoint ckpt(*std::move(inner), "model.layers.0.mlp.up_proj.weight", 0.5f);
  CpuBackend backend;
  auto d = Decoder::Load(ckpt, &backend, {.scheme = TestScheme("bf16"), .stored_formats = true});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->stored_projections(), 1);
}

TEST(Decoder, PackingDoesNotChangeResults) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@5");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CpuBackend backend;
  auto d = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("fp32")});
  ASSERT_TRUE(d.ok()) << d.status();
  std::vector<int32_t> a = {1, 5, 9, 200, 3}, b = {7, 7, 7, 7, 100, 511, 0};
  TokenBatch both, alone;
  both.AddSequence(a);
  both.AddSequence(b);
  alone.AddSequence(b);
  const RowScores p = LogProbs(**d, both), q = LogProbs(**d, alone);
  const int64_t v = (*ckpt)->config().vocab_size;
  for (int64_t i = 0; i < q.rows * v; ++i)
    ASSERT_NEAR(p.logprobs[a.size() * v + i], q.logprobs[i], 2e-5) << i;
}

TEST(Decoder, SharedContextEqualsSeparateSequences) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@6");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CpuBackend backend;
  auto d = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("fp32")});
  ASSERT_TRUE(d.ok()) << d.status();
  const std::vector<int32_t> ctx = {1, 50, 60, 70}, a = {5, 6, 7}, b = {9};
  TokenBatch shared;
  const std::vector<int64_t> first = shared.AddShared(ctx, {a, b});
  const RowScores s = LogProbs(**d, shared);
  const int64_t v = (*ckpt)->config().vocab_size;
  for (const auto& [branch, row] : {std::pair{a, first[0]}, std::pair{b, first[1]}}) {
    std::vector<int32_t> whole = ctx;
    whole.insert(whole.end(), branch.begin(), branch.end());
    TokenBatch sep;
    sep.AddSequence(whole);
    const RowScores w = LogProbs(**d, sep);
    for (size_t i = 0; i < branch.size(); ++i)
      for (int64_t j = 0; j < v; ++j)
        ASSERT_NEAR(s.logprobs[(row + i) * v + j], w.logprobs[(ctx.size() + i) * v + j], 2e-5);
  }
}

// Every row's log-probs from two ranks (two threads; the all-reduce sums
// through a shared buffer in rank order).
RowScores TwoRankLogProbs(const Checkpoint& ckpt, const TokenBatch& batch, const std::string& scheme,
                          bool tp_invariant) {
  std::barrier sync(2);
  std::vector<float>* bufs[2] = {nullptr, nullptr};
  std::vector<LogitStats> stats[2];
  auto rank = [&](int r) {
    std::vector<float> mine;
    CpuBackend backend([&](float* data, int64_t n) {
      mine.assign(data, data + n);
      bufs[r] = &mine;
      sync.arrive_and_wait();
      for (int64_t i = 0; i < n; ++i) data[i] = (*bufs[0])[i] + (*bufs[1])[i];
      sync.arrive_and_wait();
    });
    auto d = Decoder::Load(ckpt, &backend,
                           {.scheme = TestScheme(scheme), .tp_rank = r, .tp_size = 2, .tp_invariant = tp_invariant});
    ASSERT_TRUE(d.ok()) << d.status();
    std::vector<int64_t> rows(batch.rows());
    std::iota(rows.begin(), rows.end(), 0);
    std::vector<int32_t> targets(batch.tokens.begin(), batch.tokens.end());
    ASSERT_TRUE((*d)->Forward(batch, rows, targets, 4, true, &stats[r]).ok());
  };
  std::thread t0(rank, 0), t1(rank, 1);
  t0.join();
  t1.join();
  std::vector<LogitStats> chunks = stats[0];
  chunks.insert(chunks.end(), stats[1].begin(), stats[1].end());
  return CombineLogitStats(chunks, 4, true);
}

TokenBatch TwoSequences() {
  TokenBatch batch;
  batch.AddSequence(std::vector<int32_t>{4, 8, 15, 16, 23, 42});
  batch.AddSequence(std::vector<int32_t>{300, 1});
  return batch;
}

TEST(Decoder, TensorParallelTwoRanksEqualsOneRank) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@9");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const TokenBatch batch = TwoSequences();
  CpuBackend single;
  auto d1 = Decoder::Load(**ckpt, &single, {.scheme = TestScheme("fp32")});
  ASSERT_TRUE(d1.ok()) << d1.status();
  const RowScores want = LogProbs(**d1, batch);
  const RowScores got = TwoRankLogProbs(**ckpt, batch, "fp32", true);
  // Bit-identical, not merely close: see kCanonicalParts.
  EXPECT_EQ(got.logprobs, want.logprobs);
  EXPECT_EQ(got.topk_id, want.topk_id);
  EXPECT_EQ(got.topk_logprob, want.topk_logprob);
  EXPECT_EQ(got.target_logprob, want.target_logprob);
  EXPECT_EQ(got.logsumexp, want.logsumexp);
  EXPECT_EQ(got.target_is_argmax, want.target_is_argmax);
}

// Without tp-invariance the row-parallel sums run in another order: the
// same model within fp32 rounding, at tp 1 and at tp 2, but not the same bits.
TEST(Decoder, FastReductionIsTheSameModelWithinRounding) {
  auto ckpt = OpenCheckpoint("synthetic:tiny@9");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const TokenBatch batch = TwoSequences();
  for (const std::string scheme : {"fp32", "w4a16-g32"}) {
    SCOPED_TRACE(scheme);
    CpuBackend b1, b2;
    auto invariant = Decoder::Load(**ckpt, &b1, {.scheme = TestScheme(scheme)});
    auto fast = Decoder::Load(**ckpt, &b2, {.scheme = TestScheme(scheme), .tp_invariant = false});
    ASSERT_TRUE(invariant.ok() && fast.ok()) << invariant.status() << fast.status();
    const RowScores want = LogProbs(**invariant, batch), one = LogProbs(**fast, batch),
                    two = TwoRankLogProbs(**ckpt, batch, scheme, false);
    ASSERT_EQ(one.logprobs.size(), want.logprobs.size());
    ASSERT_EQ(two.logprobs.size(), want.logprobs.size());
    float worst1 = 0, worst2 = 0;
    for (size_t i = 0; i < want.logprobs.size(); ++i) {
      worst1 = std::max(worst1, std::fabs(one.logprobs[i] - want.logprobs[i]));
      worst2 = std::max(worst2, std::fabs(two.logprobs[i] - want.logprobs[i]));
    }
    EXPECT_LT(worst1, 1e-4f);
    EXPECT_LT(worst2, 1e-4f);
    EXPECT_GT(worst1, 0.0f);  // another summation order did run
  }
}

TEST(Decoder, RejectsTokensOutsideTheVocabulary) {
  auto ckpt = OpenCheckpoint("synthetic:tiny");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CpuBackend backend;
  auto d = Decoder::Load(**ckpt, &backend, {});
  ASSERT_TRUE(d.ok());
  TokenBatch batch;
  batch.AddSequence(std::vector<int32_t>{1, 512});
  std::vector<LogitStats> stats;
  const int64_t row = 0;
  const int32_t target = 1;
  absl::Status s = (*d)->Forward(batch, {&row, 1}, {&target, 1}, 0, false, &stats);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("token id 512"), std::string::npos) << s;
}

}  // namespace
}  // namespace qsweep
