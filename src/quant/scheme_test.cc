#include "quant/scheme.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(Scheme, EveryCanonicalNameRoundTrips) {
  for (const char* name :
       {"fp32", "bf16", "fp16", "w8a16", "w4a16-g128", "w4a16-g128-asym", "w3a16-g128", "w2a16-g64",
        "w1a16-g128", "t2a16-g128", "nf4-g64", "fp4-g64", "fp8", "fp8a16", "w8a8", "w4a8", "w4a4", "w4a16-g128-gptq",
        "w4a16-g128-awq", "w8a8-sq0.5", "w6a16-g32", "w5a16-asym", "w4a16-g128-gptq-act",
        "w3a16-g64-asym-gptq-act-static", "w4a16-g128-gptq-static", "w8a16-gptq-act", "w8a8-gptq"}) {
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
  EXPECT_EQ(ParseScheme("fp8a16")->format.act, ActKind::kNone);
  EXPECT_EQ(ParseScheme("fp8a16")->format.kind, WeightKind::kFp8);
  EXPECT_DOUBLE_EQ(ParseScheme("w4a16-g128")->format.BitsPerWeight(4096), 4.125);
  EXPECT_DOUBLE_EQ(ParseScheme("w4a16-g128-asym")->format.BitsPerWeight(4096), 4.1875);
  EXPECT_DOUBLE_EQ(ParseScheme("nf4-g64")->format.BitsPerWeight(4096), 4.25);
}

TEST(Scheme, InvalidNamesListTheValidForms) {
  for (const char* bad : {"", "int4", "w9a16", "w4a16-g100", "w4a16-g8", "w1a16", "nf4", "w8a8-g128", "fp8-asym",
                          "w4a16-asym-asym", "w3a8", "bf16-gptq", "w4a16-gptq-g128", "w4a16-x", "nf4-g64-gptq",
                          "w4a16-gptq-static", "w4a16-g128-gptq-static-act", "w4a16-g128-gptq-act-act",
                          "w4a16-g128-act"}) {
    auto s = ParseScheme(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("valid forms: fp32, bf16, fp16; w<2-8>a16"), std::string::npos) << s.status();
  }
}

TEST(Scheme, GptqOptionsComeFromTheNameAndGoIntoTheJson) {
  const auto plain = *ParseScheme("w4a16-g128-gptq");
  EXPECT_EQ(plain.method, Method::kGptq);
  EXPECT_FALSE(plain.gptq.act_order);
  EXPECT_FALSE(plain.gptq.static_groups);
  const auto both = *ParseScheme("w4a16-g128-gptq-act-static");
  EXPECT_TRUE(both.gptq.act_order);
  EXPECT_TRUE(both.gptq.static_groups);
  EXPECT_EQ(MethodName(both), "gptq-act-static");
  EXPECT_EQ(both.base, "w4a16-g128-gptq-act-static");
  const std::string json = SchemeJson(both);
  EXPECT_NE(json.find(R"("gptq":{"act_order":true,"block_size":128,"damp":0.01,"damp_retries":3,"static_groups":true})"),
            std::string::npos)
      << json;
  EXPECT_EQ(SchemeJson(*ParseScheme("w4a16-g128")).find("gptq"), std::string::npos);
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
  // Values of the wrong YAML type (a map or list where a name belongs) are
  // errors, not yaml-cpp exceptions (found by fuzz/sweep_config_fuzz).
  for (const char* bad : {"scheme: {a: 1}\n", "scheme: w4a16-g128\noverrides: [{format: [w2a16-g64]}]\n",
                          "scheme: w4a16-g128\noverrides: [{layers: {0: 1}}]\n",
                          "scheme: w4a16-g128\noverrides: [{projections: [[q]]}]\n", "{[1]: 2, scheme: bf16}\n"}) {
    const auto s = SchemeFromYaml(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("scheme YAML"), std::string::npos) << s.status();
  }
}

TEST(Scheme, SmoothQuantAlphaIsCanonicalAndNeedsQuantizedActivations) {
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"w8a8-sq.5", "w8a8-sq0.5"}, {"w8a8-sq0.50", "w8a8-sq0.5"}, {"w4a8-sq1", "w4a8-sq1"},
           {"fp8-sq0", "fp8-sq0"}, {"w4a4-sq0.85", "w4a4-sq0.85"}}) {
    auto s = ParseScheme(in);
    ASSERT_TRUE(s.ok()) << in << ": " << s.status();
    EXPECT_EQ(SchemeName(*s), out);
    EXPECT_EQ(SchemeName(*ParseScheme(out)), out);
  }
  for (const char* bad : {"w4a16-g128-sq0.5", "w8a8-sq1.5", "w8a8-sq", "w8a8-sqx", "w8a8-sq0.5-rtn", "bf16-sq0.5",
                          "w4a16-g99999999999999999999"}) {
    auto s = ParseScheme(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("valid forms:"), std::string::npos) << s.status();
  }
}

// Every tensor name of a small llama with attention biases.
std::vector<std::string> CanonicalNames(int layers) {
  std::vector<std::string> n = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
  for (int l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* t : {"input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
                          "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                          "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
      n.push_back(p + t);
  }
  return n;
}

bool SameFormat(const WeightFormat& a, const WeightFormat& b) { return a.Describe() == b.Describe() && a.act == b.act; }

TEST(Scheme, FormatForOverCanonicalNames) {
  for (const char* name : {"fp32", "bf16", "fp16", "w4a16-g128", "nf4-g64", "w8a8", "fp8"}) {
    const SchemeSpec s = *ParseScheme(name);
    for (const std::string& t : CanonicalNames(3)) {
      const WeightFormat f = FormatFor(s, t);
      const bool projection = t.find("_proj.weight") != std::string::npos;
      if (projection) {
        EXPECT_TRUE(SameFormat(f, s.format)) << name << " " << t;
      } else {
        EXPECT_FALSE(f.quantized()) << name << " " << t;
        EXPECT_TRUE(SameFormat(f, UnquantizedFormat(s))) << name << " " << t;
      }
    }
  }
  EXPECT_EQ(UnquantizedFormat(*ParseScheme("fp32")).dense_bits, 32);
  EXPECT_TRUE(UnquantizedFormat(*ParseScheme("fp16")).dense_fp16);
  EXPECT_EQ(UnquantizedFormat(*ParseScheme("w4a4")).Describe(), "bf16");
}

TEST(Scheme, OverridesQuantizeSomeLayersOfADenseBase) {
  auto s = SchemeFromYaml("scheme: bf16\noverrides:\n  - {layers: 0-4, projections: [q, k, v, o], format: w4a16-g128}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FormatFor(*s, "model.layers.4.self_attn.k_proj.weight").bits, 4);
  EXPECT_FALSE(FormatFor(*s, "model.layers.5.self_attn.k_proj.weight").quantized());
  EXPECT_FALSE(FormatFor(*s, "model.layers.0.mlp.up_proj.weight").quantized());
  EXPECT_FALSE(FormatFor(*s, "model.layers.0.self_attn.q_proj.bias").quantized());
  EXPECT_FALSE(FormatFor(*s, "model.embed_tokens.weight").quantized());
  // "keep" is the unquantized format of the base: fp32 under fp32.
  auto f = SchemeFromYaml("scheme: fp32\noverrides: [{layers: 1, format: w8a16}, {layers: 0-, format: keep}]\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(FormatFor(*f, "model.layers.1.mlp.down_proj.weight").bits, 8);
  EXPECT_EQ(FormatFor(*f, "model.layers.2.mlp.down_proj.weight").dense_bits, 32);
}

TEST(Scheme, YamlRoundTripKeepsEveryTensorsFormat) {
  const std::string yaml = R"(scheme: w4a16-g128-gptq
overrides:
  - {layers: 0-1, projections: [down, o], format: w8a16}
  - {layers: 2, format: keep}
  - {layers: 3-, projections: [gate, up], format: nf4-g64}
  - {projections: [q], format: w3a16-g128-asym}
)";
  auto s = SchemeFromYaml(yaml);
  ASSERT_TRUE(s.ok()) << s.status();
  auto back = SchemeFromYaml(SchemeToYaml(*s));
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << SchemeToYaml(*s);
  EXPECT_EQ(MethodName(*back), "gptq");
  EXPECT_EQ(SchemeToYaml(*back), SchemeToYaml(*s));
  int quantized_kinds[8] = {};
  for (const std::string& t : CanonicalNames(6)) {
    const WeightFormat a = FormatFor(*s, t), b = FormatFor(*back, t);
    EXPECT_TRUE(SameFormat(a, b)) << t;
    ++quantized_kinds[static_cast<int>(a.kind)];
  }
  EXPECT_GT(quantized_kinds[static_cast<int>(WeightKind::kNf4)], 0);
  EXPECT_EQ(FormatFor(*s, "model.layers.1.self_attn.o_proj.weight").bits, 8);
  EXPECT_FALSE(FormatFor(*s, "model.layers.2.self_attn.q_proj.weight").quantized());
  EXPECT_TRUE(FormatFor(*s, "model.layers.4.self_attn.q_proj.weight").asymmetric);
  EXPECT_EQ(FormatFor(*s, "model.layers.4.self_attn.k_proj.weight").bits, 4);
}

TEST(Scheme, BadYamlSaysWhatIsWrong) {
  for (const auto& [yaml, want] : std::vector<std::pair<std::string, std::string>>{
           {"scheme: w4a16-g128\noverrides: [{layer: 0-4, format: keep}]\n", "override 0: unknown key 'layer'"},
           {"schema: w4a16-g128\n", "'scheme' missing"},
           {"scheme: w4a16-g128\nextra: 1\n", "unknown key 'extra'"},
           {"scheme: w4a16-g128\noverrides: [{layers: 5-2}]\n", "layers '5-2' is an empty range"},
           {"scheme: w4a16-g128\noverrides: [{layers: a-b}]\n", "layers 'a-b' (expected A-B, A- or A)"},
           // 20 digits overflowed std::stoll, an exception that ended the program
           {"scheme: w4a16-g128\noverrides: [{layers: 99999999999999999999}]\n", "(expected A-B, A- or A)"},
           {"scheme: w4a16-g128\noverrides: [{layers: 0-99999999999999999999}]\n", "(expected A-B, A- or A)"},
           {"scheme: w4a16-g128\noverrides: {layers: 1}\n", "'overrides' must be a list"},
           {"scheme: w4a16-g128\noverrides: [{projections: q}]\n", "projections is a list"},
           {"scheme: bf16\noverrides: [{format: w4a16-g128-awq}]\n", "a method suffix belongs to the base scheme"},
           {"scheme: w4a16-g128\noverrides: [{}, {format: w9a16}]\n", "unknown scheme 'w9a16'"},
           {"scheme: [\n", "scheme YAML"}}) {
    auto s = SchemeFromYaml(yaml);
    ASSERT_FALSE(s.ok()) << yaml;
    EXPECT_NE(s.status().message().find(want), std::string::npos) << s.status();
  }
}

TEST(Scheme, ResolveTakesANameOrAYamlSpec) {
  auto n = ResolveScheme("w4a16-g128");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(SchemeName(*n), "w4a16-g128");
  auto y = ResolveScheme("scheme: bf16\noverrides: [{layers: 0-1, format: w4a16-g128}]\n");
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(FormatFor(*y, "model.layers.1.mlp.up_proj.weight").bits, 4);
  EXPECT_FALSE(FormatFor(*y, "model.layers.2.mlp.up_proj.weight").quantized());
  EXPECT_EQ(SchemeToYaml(*ResolveScheme(SchemeToYaml(*y))), SchemeToYaml(*y));
  EXPECT_NE(ResolveScheme("w9a16").status().message().find("valid forms"), std::string::npos);
  EXPECT_FALSE(ResolveScheme("scheme: w9a16\n").ok());
}

}  // namespace
}  // namespace qsweep
