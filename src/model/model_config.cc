#include "model/model_config.h"

#include "absl/strings/str_cat.h"

namespace qsweep {

std::string_view RopeTypeName(RopeType t) {
  switch (t) {
    case RopeType::kDefault: return "default";
    case RopeType::kLinear: return "linear";
    case RopeType::kLlama3: return "llama3";
  }
  return "?";
}

std::string EmbedName() { return "model.embed_tokens.weight"; }
std::string FinalNormName() { return "model.norm.weight"; }
std::string LmHeadName() { return "lm_head.weight"; }

std::string LayerTensorName(int64_t layer, std::string_view suffix) {
  return absl::StrCat("model.layers.", layer, ".", std::string(suffix));
}

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& c) {
  const int64_t d = c.hidden_size, inter = c.intermediate_size;
  std::vector<ExpectedTensor> out;
  out.reserve(3 + c.num_layers * 12);
  out.push_back({EmbedName(), {c.vocab_size, d}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto add = [&](std::string_view suffix, std::vector<int64_t> shape) {
      out.push_back({LayerTensorName(l, suffix), std::move(shape)});
    };
    add("input_layernorm.weight", {d});
    add("self_attn.q_proj.weight", {c.q_dim(), d});
    add("self_attn.k_proj.weight", {c.kv_dim(), d});
    add("self_attn.v_proj.weight", {c.kv_dim(), d});
    if (c.attention_bias) {
      add("self_attn.q_proj.bias", {c.q_dim()});
      add("self_attn.k_proj.bias", {c.kv_dim()});
      add("self_attn.v_proj.bias", {c.kv_dim()});
    }
    add("self_attn.o_proj.weight", {d, c.q_dim()});
    add("post_attention_layernorm.weight", {d});
    add("mlp.gate_proj.weight", {inter, d});
    add("mlp.up_proj.weight", {inter, d});
    add("mlp.down_proj.weight", {d, inter});
  }
  out.push_back({FinalNormName(), {d}});
  if (!c.tie_word_embeddings) out.push_back({LmHeadName(), {c.vocab_size, d}});
  return out;
}

int64_t ModelConfig::ParameterCount() const {
  int64_t n = 0;
  for (const auto& t : ExpectedTensors(*this)) {
    int64_t numel = 1;
    for (int64_t s : t.shape) numel *= s;
    n += numel;
  }
  return n;
}

}  // namespace qsweep
