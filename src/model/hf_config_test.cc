#include "model/hf_config.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"

namespace qsweep {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Llama 3.1 8B's config.json as published (classic style).
json Llama31() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
    "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

TEST(HfConfig, Llama31Classic) {
  auto c = ParseHfConfig(Llama31(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 14336);
  EXPECT_EQ(c->num_layers, 32);
  EXPECT_EQ(c->num_heads, 32);
  EXPECT_EQ(c->num_kv_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->dtype, DType::kBF16);
  EXPECT_EQ(c->ParameterCount(), 8030261248);  // Llama 3.1 8B's published count
}

TEST(HfConfig, Transformers5RopeParameters) {
  json j = Llama31();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.erase("torch_dtype");
  j["dtype"] = "float16";
  j["rope_parameters"] = {{"rope_type", "llama3"},  {"rope_theta", 500000.0},
                          {"factor", 32.0},         {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->dtype, DType::kF16);

  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeType::kDefault);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
}

TEST(HfConfig, Qwen2ImpliesBiasAndTies) {
  json j = json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "intermediate_size": 4864,
    "max_position_embeddings": 32768, "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "rope_scaling": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "vocab_size": 151936})");
  auto c = ParseHfConfig(j, "qwen/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->attention_bias);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->rope_scaling.type, RopeType::kDefault);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_EQ(c->ParameterCount(), 494032768);  // Qwen2-0.5B's published count
}

TEST(HfConfig, MistralExplicitHeadDimAndLlama2Defaults) {
  json j = json::parse(R"({
    "architectures": ["MistralForCausalLM"], "hidden_size": 5120, "head_dim": 128,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 40,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "torch_dtype": "bfloat16", "vocab_size": 131072})");
  auto c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "MistralForCausalLM");
  EXPECT_EQ(c->head_dim, 128);  // not 5120 / 32 = 160
  EXPECT_EQ(c->q_dim(), 4096);
  EXPECT_EQ(c->sliding_window, 0);
  j["sliding_window"] = 4096;
  c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sliding_window, 4096);

  // Llama 2: no num_key_value_heads (MHA), no rope_theta (10000), attention_bias.
  json l2 = json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 11008,
    "num_attention_heads": 32, "num_hidden_layers": 32, "rms_norm_eps": 1e-05,
    "max_position_embeddings": 4096, "torch_dtype": "float16", "vocab_size": 32000,
    "attention_bias": true})");
  c = ParseHfConfig(l2, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_kv_heads, 32);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeType::kDefault);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->dtype, DType::kF16);
}

TEST(HfConfig, LinearScalingWithOldTypeKey) {
  json j = Llama31();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  auto c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
}

struct BadCase {
  const char* what;
  std::function<void(json&)> edit;
  const char* message;
};

TEST(HfConfig, BadConfigsNameFileAndKey) {
  const BadCase cases[] = {
      {"architecture", [](json& j) { j["architectures"] = {"GemmaForCausalLM"}; },
       "unsupported architecture 'GemmaForCausalLM'"},
      {"no architecture", [](json& j) { j.erase("architectures"); j.erase("model_type"); },
       "missing required key 'architectures'"},
      {"yarn", [](json& j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; },
       "unsupported rope type 'yarn'"},
      {"dynamic", [](json& j) { j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; },
       "unsupported rope type 'dynamic'"},
      {"rope without type", [](json& j) { j["rope_scaling"] = {{"factor", 2.0}}; },
       "missing required key 'rope_scaling.rope_type'"},
      {"llama3 missing field", [](json& j) { j["rope_scaling"].erase("low_freq_factor"); },
       "missing required key 'rope_scaling.low_freq_factor'"},
      {"linear without factor", [](json& j) { j["rope_scaling"] = {{"rope_type", "linear"}}; },
       "missing required key 'rope_scaling.factor'"},
      {"rope_parameters yarn",
       [](json& j) { j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e4}}; },
       "rope_parameters.rope_type' names unsupported rope type 'yarn'"},
      {"rope_parameters without theta",
       [](json& j) { j["rope_parameters"] = {{"rope_type", "default"}}; },
       "missing required key 'rope_parameters.rope_theta'"},
      {"missing hidden_size", [](json& j) { j.erase("hidden_size"); },
       "missing required key 'hidden_size'"},
      {"string hidden_size", [](json& j) { j["hidden_size"] = "4096"; },
       "key 'hidden_size' must be an integer, got string"},
      {"float layers", [](json& j) { j["num_hidden_layers"] = 3.5; },
       "key 'num_hidden_layers' must be an integer"},
      {"negative vocab", [](json& j) { j["vocab_size"] = -5; }, "'vocab_size' must be positive"},
      {"bool as string", [](json& j) { j["tie_word_embeddings"] = "yes"; },
       "key 'tie_word_embeddings' must be true or false, got string"},
      {"rope_scaling type", [](json& j) { j["rope_scaling"] = 8; },
       "key 'rope_scaling' must be an object or null"},
      {"gqa", [](json& j) { j["num_key_value_heads"] = 5; },
       "'num_key_value_heads' (5) must divide num_attention_heads (32)"},
      {"dtype", [](json& j) { j["torch_dtype"] = "float64"; }, "unsupported dtype 'float64'"},
      {"no dtype", [](json& j) { j.erase("torch_dtype"); }, "missing required key 'torch_dtype'"},
      {"qwen sliding", [](json& j) { j["use_sliding_window"] = true; },
       "key 'use_sliding_window' is true"},
      {"theta string", [](json& j) { j["rope_theta"] = "1e4"; },
       "key 'rope_theta' must be a number, got string"},
  };
  for (const auto& bc : cases) {
    json j = Llama31();
    bc.edit(j);
    auto c = ParseHfConfig(j, "/m/config.json");
    ASSERT_FALSE(c.ok()) << bc.what;
    EXPECT_THAT(c.status().message(), HasSubstr("/m/config.json: ")) << bc.what;
    EXPECT_THAT(c.status().message(), HasSubstr(bc.message)) << bc.what;
  }
}

TEST(HfConfig, ModelTypeWhenNoArchitectures) {
  json j = Llama31();
  j.erase("architectures");
  j["model_type"] = "qwen2";
  auto c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "Qwen2ForCausalLM");
  EXPECT_TRUE(c->attention_bias);
}

TEST(HfConfig, LoadFromFile) {
  const auto dir = testing::ScratchDir("hf_config_load");
  const std::string path = (dir / "config.json").string();
  std::ofstream(path) << Llama31().dump(2);
  auto c = LoadHfConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_kv_heads, 8);

  std::ofstream(path) << "{\"architectures\": [";
  c = LoadHfConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr(path + ": not valid JSON"));
  EXPECT_THAT(c.status().message(), HasSubstr("parse error at line 1"));  // where, and why
  EXPECT_THAT(c.status().message(), HasSubstr("unexpected end of input"));

  c = LoadHfConfig((dir / "absent.json").string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("absent.json: cannot open"));
}

}  // namespace
}  // namespace qsweep
