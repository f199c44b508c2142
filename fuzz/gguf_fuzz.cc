// A GGUF file: the header, metadata and tensor directory parser with its
// bounds checks, the config and tensor checks, and every tensor read
// (dequantized, q/k rows reordered).
#include "fuzz_input.h"
#include "model/gguf_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsweep::fuzz::WriteInput(data, size, "model.gguf");
  auto ckpt = qsweep::GgufCheckpoint::Open(path);
  if (!ckpt.ok()) return 0;
  for (const qsweep::TensorInfo& t : (*ckpt)->tensors())
    if (t.numel() <= (1 << 20)) (void)(*ckpt)->ReadAll(t.name);
  return 0;
}
