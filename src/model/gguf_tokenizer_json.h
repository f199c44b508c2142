// A GGUF file's own byte-level BPE tokenizer (tokenizer.ggml.model "gpt2":
// Llama 3, Qwen2, GPT-2) as the HF tokenizer.json it was converted from, so
// that a sweep of GGUF files needs no tokenizer beside them: the vocabulary
// by id, the merges in rank order, control and user-defined tokens as added
// tokens (control ones special), the pre-tokenizer that llama.cpp's
// tokenizer.ggml.pre names, and BOS/EOS as a single-sequence template.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "model/gguf_checkpoint.h"

namespace qsweep {

// Errors name `source`: a SentencePiece tokenizer ("llama": give its
// tokenizer.model), no merges, a pre-tokenizer whose pattern is not known
// here (listing the known ones), a BOS/EOS id outside the vocabulary.
absl::StatusOr<std::string> GgufTokenizerJson(const GgufTokenizerInfo& tokenizer, const std::string& source);

}  // namespace qsweep
