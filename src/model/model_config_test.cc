#include "model/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qsweep {
namespace {

ModelConfig Small() {
  ModelConfig c;
  c.vocab_size = 10;
  c.hidden_size = 6;
  c.intermediate_size = 5;
  c.num_layers = 2;
  c.num_heads = 3;
  c.num_kv_heads = 1;
  c.head_dim = 4;  // q_dim 12 != hidden: explicit head_dim
  return c;
}

TEST(ModelConfig, ExpectedTensorsNamesShapesAndOrder) {
  const auto t = ExpectedTensors(Small());
  ASSERT_EQ(t.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(t[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(t[0].shape, (std::vector<int64_t>{10, 6}));
  EXPECT_EQ(t[1].name, "model.layers.0.input_layernorm.weight");
  EXPECT_EQ(t[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(t[2].shape, (std::vector<int64_t>{12, 6}));
  EXPECT_EQ(t[3].shape, (std::vector<int64_t>{4, 6}));  // k: kv_dim x D
  EXPECT_EQ(t[5].name, "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(t[5].shape, (std::vector<int64_t>{6, 12}));
  EXPECT_EQ(t[9].name, "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(t[9].shape, (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(t[10].name, "model.layers.1.input_layernorm.weight");
  EXPECT_EQ(t[19].name, "model.norm.weight");
  EXPECT_EQ(t[20].name, "lm_head.weight");
}

TEST(ModelConfig, TiedHasNoHeadAndBiasAddsThreeTensorsPerLayer) {
  ModelConfig c = Small();
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  const auto t = ExpectedTensors(c);
  ASSERT_EQ(t.size(), 1u + 2 * 12 + 1);
  EXPECT_EQ(t.back().name, "model.norm.weight");
  EXPECT_EQ(t[5].name, "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(t[5].shape, (std::vector<int64_t>{12}));
  EXPECT_EQ(t[6].shape, (std::vector<int64_t>{4}));
}

TEST(ModelConfig, ParameterCountByHand) {
  // embed 60, per layer: norms 12, q 72, k 24, v 24, o 72, mlp 3*30 = 294; final 6, head 60.
  EXPECT_EQ(Small().ParameterCount(), 60 + 2 * 294 + 6 + 60);
  ModelConfig c = Small();
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  EXPECT_EQ(c.ParameterCount(), 60 + 2 * (294 + 12 + 4 + 4) + 6);
}

TEST(ModelConfig, NamesAndRopeTypeNames) {
  EXPECT_EQ(LayerTensorName(31, "mlp.up_proj.weight"), "model.layers.31.mlp.up_proj.weight");
  EXPECT_EQ(LmHeadName(), "lm_head.weight");
  EXPECT_EQ(RopeTypeName(RopeType::kLlama3), "llama3");
  EXPECT_EQ(RopeTypeName(RopeType::kLinear), "linear");
  EXPECT_EQ(RopeTypeName(RopeType::kDefault), "default");
}

}  // namespace
}  // namespace qsweep
