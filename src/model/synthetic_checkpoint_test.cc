#include "model/synthetic_checkpoint.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/counter_rng.h"
#include "core/dtype.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Checkpoint> Open(const std::string& spec) {
  auto ck = OpenSyntheticCheckpoint(spec);
  EXPECT_TRUE(ck.ok()) << ck.status();
  return ck.ok() ? *std::move(ck) : nullptr;
}

TEST(Synthetic, PublishedParameterCounts) {
  auto count = [](const char* name) { return SyntheticModelConfig(name)->ParameterCount(); };
  EXPECT_EQ(count("llama3-70b"), 70553706496);
  EXPECT_EQ(count("llama3-8b"), 8030261248);
  EXPECT_EQ(count("llama3.2-1b"), 1235814400);
  EXPECT_EQ(count("llama2-7b"), 6738415616);
  EXPECT_EQ(count("qwen2-0.5b-like"), 494032768);
}

TEST(Synthetic, ShapesOfTheNamedModels) {
  auto c = *SyntheticModelConfig("tiny");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 176);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kDefault);
  c = *SyntheticModelConfig("tiny-llama3");
  EXPECT_EQ(c.rope_scaling.type, RopeType::kLlama3);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  c = *SyntheticModelConfig("llama3.2-1b");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  c = *SyntheticModelConfig("qwen2-0.5b-like");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  auto ck = Open("synthetic:llama3-70b");
  EXPECT_EQ(ck->tensors().size(), 723u);
  for (const auto& t : ck->tensors()) EXPECT_EQ(t.dtype, DType::kBF16);
  EXPECT_EQ(ck->TotalBytes(), 2 * 70553706496);
}

TEST(Synthetic, ValuesFollowTheDocumentedFormula) {
  // Independent of the reader: the header's formula written out.
  auto ck = Open("synthetic:llama3-70b@7");
  std::vector<float> rows(2 * 8192);
  ASSERT_TRUE(ck->ReadSlice("lm_head.weight", 0, 1000, 1002, rows).ok());
  const uint64_t head = StreamId("lm_head.weight");
  for (int64_t i : {0, 5, 8191, 8192 + 17}) {
    const float n = CounterNormal(7, head, 1000 * 8192 + i);
    EXPECT_EQ(rows[i], RoundBF16(static_cast<float>(1.0 / std::sqrt(8192.0)) * n)) << i;
  }
  std::vector<float> norm(4);
  ASSERT_TRUE(ck->ReadSlice("model.layers.79.input_layernorm.weight", 0, 10, 14, norm).ok());
  const uint64_t ns = StreamId("model.layers.79.input_layernorm.weight");
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(norm[i], RoundBF16(1.0f + 0.1f * CounterNormal(7, ns, 10 + i)));
  std::vector<float> emb(3);
  ASSERT_TRUE(ck->ReadSlice("model.embed_tokens.weight", 1, 100, 103,
                            std::span(emb)).code() == absl::StatusCode::kInvalidArgument);
}

TEST(Synthetic, DeterministicAndSlicesAreIndependent) {
  auto a = Open("synthetic:tiny");
  auto b = Open("synthetic:tiny@0");
  for (const auto& t : a->tensors()) {
    auto fa = a->ReadAll(t.name);
    auto fb = b->ReadAll(t.name);
    ASSERT_TRUE(fa.ok() && fb.ok());
    ASSERT_EQ(*fa, *fb) << t.name;
    for (float v : *fa) ASSERT_EQ(v, RoundBF16(v));  // representable in bf16
  }
  EXPECT_EQ(a->content_id(), b->content_id());
  for (const char* name : {"model.layers.1.mlp.down_proj.weight", "lm_head.weight"}) {
    const auto full = *a->ReadAll(name);
    const int64_t rows = a->Find(name)->shape[0], cols = a->Find(name)->shape[1];
    std::vector<float> rs(5 * cols), cs(rows * 7);
    ASSERT_TRUE(a->ReadSlice(name, 0, 30, 35, rs).ok());
    ASSERT_TRUE(a->ReadSlice(name, 1, 40, 47, cs).ok());
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(rs[r * cols + c], full[(30 + r) * cols + c]);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < 7; ++c) ASSERT_EQ(cs[r * 7 + c], full[r * cols + 40 + c]);
  }
}

TEST(Synthetic, SeedsDiffer) {
  auto a = Open("synthetic:tiny@1");
  auto b = Open("synthetic:tiny@2");
  const auto x = *a->ReadAll("model.layers.0.self_attn.q_proj.weight");
  const auto y = *b->ReadAll("model.layers.0.self_attn.q_proj.weight");
  int equal = 0;
  for (size_t i = 0; i < x.size(); ++i) equal += x[i] == y[i];
  EXPECT_LT(equal, static_cast<int>(x.size()) / 50);
  EXPECT_NE(a->content_id(), b->content_id());
  EXPECT_NE(Open("synthetic:tiny")->content_id(), Open("synthetic:tiny-llama3")->content_id());
  // Different tensors of one model differ too (their streams differ).
  EXPECT_NE(*a->ReadAll("model.layers.0.mlp.gate_proj.weight"),
            *a->ReadAll("model.layers.0.mlp.up_proj.weight"));
}

void ExpectMoments(const std::vector<float>& v, double mean, double stddev, const char* what) {
  double s = 0, s2 = 0;
  for (float x : v) s += x;
  const double m = s / v.size();
  for (float x : v) s2 += (x - m) * (x - m);
  const double sd = std::sqrt(s2 / v.size());
  EXPECT_NEAR(m, mean, 4 * stddev / std::sqrt(v.size())) << what;
  EXPECT_NEAR(sd, stddev, 0.05 * stddev) << what;
}

TEST(Synthetic, MomentsAreSane) {
  auto ck = Open("synthetic:tiny-llama3@3");
  ExpectMoments(*ck->ReadAll("model.embed_tokens.weight"), 0.0, 1.0, "embedding");
  ExpectMoments(*ck->ReadAll("model.layers.0.mlp.gate_proj.weight"), 0.0, 1.0 / std::sqrt(128.0),
                "gate");
  ExpectMoments(*ck->ReadAll("model.layers.1.mlp.down_proj.weight"), 0.0, 1.0 / std::sqrt(352.0),
                "down");
  std::vector<float> norms;
  for (int l = 0; l < 2; ++l)
    for (const char* n : {"input_layernorm.weight", "post_attention_layernorm.weight"}) {
      auto v = *ck->ReadAll(LayerTensorName(l, n));
      norms.insert(norms.end(), v.begin(), v.end());
    }
  auto f = *ck->ReadAll("model.norm.weight");
  norms.insert(norms.end(), f.begin(), f.end());
  ExpectMoments(norms, 1.0, 0.1, "norms");
  auto q = Open("synthetic:qwen2-0.5b-like");
  std::vector<float> bias(896);
  ASSERT_TRUE(q->ReadSlice("model.layers.3.self_attn.q_proj.bias", 0, 0, 896, bias).ok());
  ExpectMoments(bias, 0.0, 0.02, "bias");
}

TEST(Synthetic, BadSpecs) {
  auto ck = OpenSyntheticCheckpoint("synthetic:llama9");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(),
              HasSubstr("synthetic:llama9: unknown synthetic model 'llama9' (valid: tiny, "
                        "tiny-llama3, llama3-8b, llama3-70b, llama3.2-1b, llama2-7b, "
                        "qwen2-0.5b-like)"));
  ck = OpenSyntheticCheckpoint("synthetic:tiny@x1");
  EXPECT_THAT(ck.status().message(), HasSubstr("seed 'x1' is not a non-negative integer"));
  ck = OpenSyntheticCheckpoint("synthetic:tiny@-1");
  EXPECT_FALSE(ck.ok());
  auto via = OpenCheckpoint("synthetic:tiny@5");
  ASSERT_TRUE(via.ok());
  EXPECT_EQ((*via)->source(), "synthetic:tiny@5");
  EXPECT_EQ((*via)->content_id(), Open("synthetic:tiny@5")->content_id());
}

}  // namespace
}  // namespace qsweep
