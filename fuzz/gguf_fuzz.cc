// A GGUF file: the header, metadata and tensor directory parser with its
// bounds checks, the config and tensor checks, every tensor read
// (dequantized, q/k rows reordered) and read as stored (Q4_0, Q5_0, Q8_0 as
// packed ints), and its tokenizer rebuilt (byte-level BPE or SentencePiece).
#include "fuzz_input.h"
#include "model/gguf_checkpoint.h"
#include "model/gguf_sentencepiece_model.h"
#include "model/gguf_tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsweep::fuzz::WriteInput(data, size, "model.gguf");
  auto ckpt = qsweep::GgufCheckpoint::Open(path);
  if (!ckpt.ok()) return 0;
  for (const qsweep::TensorInfo& t : (*ckpt)->tensors())
    if (t.numel() <= (1 << 20)) {
      (void)(*ckpt)->ReadAll(t.name);
      (void)(*ckpt)->ReadStoredRows(t.name, 0, t.shape[0]);
    }
  (void)qsweep::GgufTokenizerJson((*ckpt)->tokenizer(), path);
  (void)qsweep::GgufSentencePieceModel((*ckpt)->tokenizer(), path);
  return 0;
}
