// A quantized safetensors checkpoint (compressed-tensors pack-quantized, the
// layout of model/gptq_awq_weights.h) beside a fixed small config.json whose
// quantization_config the input's first byte picks (asymmetric or
// symmetric 4-bit, groups of 8): the packed layers' tensor checks, every
// tensor read (dequantized) and read as stored (qsweep's int formats).
#include "fuzz_input.h"
#include "model/safetensors_checkpoint.h"

namespace {

// safetensors_fuzz.cc's model: one layer, hidden 8, 2 heads of 4, 1
// key-value head, intermediate 16, vocabulary 16 (tools/fuzz.sh writes
// valid files of these shapes as seeds).
constexpr char kModel[] = R"("architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
"intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
"head_dim": 4, "vocab_size": 16, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
"tie_word_embeddings": false, "torch_dtype": "bfloat16")";

std::string Config(bool symmetric) {
  return std::string("{") + kModel + R"(, "quantization_config": {"quant_method": "compressed-tensors",
"format": "pack-quantized", "ignore": ["lm_head"], "config_groups": {"group_0": {"targets": ["Linear"],
"input_activations": null, "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 8,
"symmetric": )" + (symmetric ? "true" : "false") + "}}}}}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string config = Config(data[0] & 1);
  qsweep::fuzz::WriteInput(reinterpret_cast<const uint8_t*>(config.data()), config.size(), "config.json");
  const std::string path = qsweep::fuzz::WriteInput(data + 1, size - 1, "model.safetensors");
  auto ckpt = qsweep::OpenSafetensorsCheckpoint(path);
  if (!ckpt.ok()) return 0;
  for (const qsweep::TensorInfo& t : (*ckpt)->tensors()) {
    (void)(*ckpt)->ReadAll(t.name);
    (void)(*ckpt)->ReadStoredRows(t.name, 0, t.shape[0]);
  }
  return 0;
}
