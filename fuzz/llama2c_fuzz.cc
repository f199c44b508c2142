// A llama2.c checkpoint: the header, the implied sizes against the file, one
// tensor read.
#include "fuzz_input.h"
#include "model/llama2c_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsweep::fuzz::WriteInput(data, size, "model.bin");
  auto ckpt = qsweep::OpenLlama2cCheckpoint(path);
  if (ckpt.ok() && !(*ckpt)->tensors().empty()) (void)(*ckpt)->ReadAll((*ckpt)->tensors()[0].name);
  return 0;
}
