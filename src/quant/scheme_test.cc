#include "quant/scheme.h"

#include <gtest/gtest.h>

#include "quant/size_report.h"

namespace qsweep {
namespace {

TEST(Scheme, EveryCanonicalNameRoundTrips) {
  for (const char* name :
       {"fp32", "bf16", "fp16", "w8a16", "w4a16-g128", "w4a16-g128-asym", "w3a16-g128", "w2a16-g64",
        "w1a16-g128", "t2a16-g128", "nf4-g64", "fp4-g64", "fp8", "w8a8", "w4a8", "w4a4", "w4a16-g128-gptq",
        "w4a16-g128-awq", "w8a8-sq0.5", "w6a16-g32", "w5a16-asym"}) {
    auto s = ParseScheme(name);
    ASSERT_TRUE(s.ok()) << name << ": " << s.status();
    EXPECT_EQ(SchemeName(*s), name);
  }
  auto rtn = ParseScheme("w4a16-g128-rtn");
  ASSERT_TRUE(rtn.ok());
  EXPECT_EQ(SchemeName(*rtn), "w4a16-g128");  // rtn is the default, not printed
}

TEST(Scheme, FormatsAreWhatTheNamesSay) {
  const auto s = *ParseScheme("w4a16-g128-asym");
  EXPECT_EQ(s.format.kind, WeightKind::kInt);
  EXPECT_EQ(s.format.bits, 4);
  EXPECT_EQ(s.format.group, 128);
  EXPECT_TRUE(s.format.asymmetric);
  EXPECT_EQ(ParseScheme("w1a16-g128")->format.kind, WeightKind::kBinary);
  EXPECT_EQ(ParseScheme("w4a4")->format.act, ActKind::kInt4);
  EXPECT_EQ(ParseScheme("fp8")->format.act, ActKind::kFp8);
  EXPECT_DOUBLE_EQ(ParseScheme("w4a16-g128")->format.BitsPerWeight(4096), 4.125);
  EXPECT_DOUBLE_EQ(ParseScheme("w4a16-g128-asym")->format.BitsPerWeight(4096), 4.1875);
  EXPECT_DOUBLE_EQ(ParseScheme("nf4-g64")->format.BitsPerWeight(4096), 4.25);
}

TEST(Scheme, InvalidNamesListTheValidForms) {
  for (const char* bad : {"", "int4", "w9a16", "w4a16-g100", "w4a16-g8", "w1a16", "nf4", "w8a8-g128", "fp8-asym",
                          "w4a16-asym-asym", "w3a8", "bf16-gptq", "w4a16-gptq-g128", "w4a16-x"}) {
    auto s = ParseScheme(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("valid forms: fp32, bf16, fp16; w<2-8>a16"), std::string::npos) << s.status();
  }
}

TEST(Scheme, FormatForKeepsEmbeddingsHeadNormsDense) {
  const auto s = *ParseScheme("w4a16-g128");
  EXPECT_EQ(FormatFor(s, "model.layers.3.mlp.up_proj.weight").kind, WeightKind::kInt);
  EXPECT_EQ(FormatFor(s, "model.layers.3.self_attn.q_proj.weight").kind, WeightKind::kInt);
  for (const char* dense : {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                            "model.layers.3.input_layernorm.weight", "model.layers.0.self_attn.q_proj.bias"}) {
    const WeightFormat f = FormatFor(s, dense);
    EXPECT_EQ(f.kind, WeightKind::kDense) << dense;
    EXPECT_EQ(f.dense_bits, 16);
  }
  EXPECT_EQ(FormatFor(*ParseScheme("fp32"), "model.embed_tokens.weight").dense_bits, 32);
}

TEST(Scheme, YamlOverridesRoundTrip) {
  const std::string yaml = R"(scheme: w4a16-g128
overrides:
  - {layers: 0-4, projections: [down], format: w8a16}
  - {layers: 5-, format: keep}
)";
  auto s = SchemeFromYaml(yaml);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FormatFor(*s, "model.layers.2.mlp.down_proj.weight").bits, 8);
  EXPECT_EQ(FormatFor(*s, "model.layers.2.mlp.up_proj.weight").bits, 4);
  EXPECT_EQ(FormatFor(*s, "model.layers.7.mlp.up_proj.weight").kind, WeightKind::kDense);
  EXPECT_EQ(SchemeName(*s), "w4a16-g128+overrides");
  auto back = SchemeFromYaml(SchemeToYaml(*s));
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << SchemeToYaml(*s);
  ASSERT_EQ(back->rules.size(), 2u);
  EXPECT_EQ(back->rules[0].last_layer, 4);
  EXPECT_EQ(back->rules[1].last_layer, -1);
  EXPECT_EQ(back->rules[0].projections, std::vector<std::string>{"down"});
  EXPECT_FALSE(SchemeFromYaml("scheme: w4a16-g128\noverrides: [{projections: [mlp]}]\n").ok());
  EXPECT_FALSE(SchemeFromYaml("scheme: w4a16-g128\noverrides: [{format: w9a16}]\n").ok());
}

TEST(SizeReport, Llama3_70BAtW4G128) {
  // Shapes of Llama 3 70B: vocab 128256, hidden 8192, intermediate 28672,
  // 80 layers, 64 heads, 8 kv heads of 128, untied head.
  std::vector<TensorInfo> t;
  const int64_t V = 128256, D = 8192, I = 28672, KV = 1024;
  t.push_back({"model.embed_tokens.weight", DType::kBF16, {V, D}});
  for (int l = 0; l < 80; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", DType::kBF16, {D}});
    t.push_back({p + "self_attn.q_proj.weight", DType::kBF16, {D, D}});
    t.push_back({p + "self_attn.k_proj.weight", DType::kBF16, {KV, D}});
    t.push_back({p + "self_attn.v_proj.weight", DType::kBF16, {KV, D}});
    t.push_back({p + "self_attn.o_proj.weight", DType::kBF16, {D, D}});
    t.push_back({p + "post_attention_layernorm.weight", DType::kBF16, {D}});
    t.push_back({p + "mlp.gate_proj.weight", DType::kBF16, {I, D}});
    t.push_back({p + "mlp.up_proj.weight", DType::kBF16, {I, D}});
    t.push_back({p + "mlp.down_proj.weight", DType::kBF16, {D, I}});
  }
  t.push_back({"model.norm.weight", DType::kBF16, {D}});
  t.push_back({"lm_head.weight", DType::kBF16, {V, D}});
  const SizeReport r = ComputeSizes(*ParseScheme("w4a16-g128"), t);
  EXPECT_EQ(r.params, 70553706496);
  EXPECT_DOUBLE_EQ(r.bits_per_quantized_weight(), 4.125);
  EXPECT_NEAR(r.bytes() / 1e9, 39.5, 0.05);
  const SizeReport b = ComputeSizes(*ParseScheme("bf16"), t);
  EXPECT_EQ(b.bytes(), 2 * 70553706496);
  EXPECT_NE(FormatSizeReport(r).find("4.1250 bits per weight"), std::string::npos) << FormatSizeReport(r);
}

}  // namespace
}  // namespace qsweep
