// A safetensors file beside a fixed small config.json: the header parser,
// its bounds checks against the file and the config, and one tensor read.
#include "fuzz_input.h"
#include "model/safetensors_checkpoint.h"

namespace {

// One layer, hidden 8, 2 heads of 4, 1 key-value head, vocabulary 16
// (tools/fuzz.sh writes a valid file of these shapes as the seed).
constexpr char kConfig[] = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
"intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
"head_dim": 4, "vocab_size": 16, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
"tie_word_embeddings": false, "torch_dtype": "bfloat16"})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool config_written = [] {
    qsweep::fuzz::WriteInput(reinterpret_cast<const uint8_t*>(kConfig), sizeof kConfig - 1, "config.json");
    return true;
  }();
  (void)config_written;
  const std::string path = qsweep::fuzz::WriteInput(data, size, "model.safetensors");
  auto ckpt = qsweep::OpenSafetensorsCheckpoint(path);
  if (ckpt.ok() && !(*ckpt)->tensors().empty()) (void)(*ckpt)->ReadAll((*ckpt)->tensors()[0].name);
  return 0;
}
