// The shape of a Llama-family decoder (Llama 2/3/3.1, Mistral, Qwen2) and the
// canonical tensor names every checkpoint reader exposes (HF transformers'
// names, HF rotary convention: rotate_half over the two halves of each head).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace qsweep {

enum class RopeType { kDefault, kLinear, kLlama3 };
// HF spelling: "default", "linear", "llama3".
std::string_view RopeTypeName(RopeType t);

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;                        // linear and llama3
  double low_freq_factor = 1.0;               // llama3
  double high_freq_factor = 4.0;              // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  // also Mistral..., Qwen2...
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // explicit in config.json or hidden_size / num_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2)
  // Mistral's sliding-window attention: 0 means full attention. Equal to full
  // attention for sequences no longer than the window.
  int64_t sliding_window = 0;
  DType dtype = DType::kBF16;   // the checkpoint's storage type (torch_dtype)

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }
  // Every parameter, the head counted once when tied.
  int64_t ParameterCount() const;
};

// Canonical tensor names. `layer` is the decoder layer index.
std::string EmbedName();       // model.embed_tokens.weight        [V, D]
std::string FinalNormName();   // model.norm.weight                [D]
std::string LmHeadName();      // lm_head.weight                   [V, D] (absent if tied)
std::string LayerTensorName(int64_t layer, std::string_view suffix);
// Suffixes within a layer (shapes as [rows = out features, cols = in]):
//   input_layernorm.weight [D], post_attention_layernorm.weight [D],
//   self_attn.q_proj.weight [H*hd, D], self_attn.k_proj.weight [KV*hd, D],
//   self_attn.v_proj.weight [KV*hd, D], self_attn.o_proj.weight [D, H*hd],
//   self_attn.{q,k,v}_proj.bias (attention_bias only),
//   mlp.gate_proj.weight [I, D], mlp.up_proj.weight [I, D], mlp.down_proj.weight [D, I]

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};
// Every tensor the config implies, in a stable order (embedding, layers, norm, head).
std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config);

}  // namespace qsweep
