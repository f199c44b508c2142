// A GGUF file's own SentencePiece tokenizer (tokenizer.ggml.model "llama":
// Llama 2, Mistral, TinyLlama) as the serialized ModelProto it was converted
// from, so that a sweep of such GGUF files needs no tokenizer.model beside
// them. GGUF keeps the pieces, their scores and types (numbered as
// ModelProto's Type: 1 normal, 2 unknown, 3 control, 4 user-defined,
// 5 unused, 6 byte) and the special ids; the rest is what llama.cpp assumes
// of these models and Llama 2's tokenizer.model holds: a BPE model, byte
// fallback where byte pieces exist, digits split, whitespace-only pieces
// allowed, the identity normalizer with a space before the text
// (tokenizer.ggml.add_space_prefix) and whitespace escaped, extra
// whitespace kept.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "model/gguf_checkpoint.h"

namespace qsweep {

// Errors name `source`: no tokens, scores or types of another length than
// the tokens, a type outside 1..6, a special id outside the vocabulary.
absl::StatusOr<std::string> GgufSentencePieceModel(const GgufTokenizerInfo& tokenizer, const std::string& source);

}  // namespace qsweep
