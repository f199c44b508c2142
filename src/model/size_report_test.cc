#include "model/size_report.h"

#include <gtest/gtest.h>

#include "quant/scheme.h"

namespace qsweep {
namespace {

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
