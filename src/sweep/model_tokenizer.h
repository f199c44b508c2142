// The tokenizer a sweep names (`tokenizer:`, default the model): a
// tokenizer.json, a tokenizer.model, a folder holding one, or a GGUF file,
// whose own tokenizer is rebuilt from its arrays: byte-level BPE ("gpt2",
// model/gguf_tokenizer_json.h) or SentencePiece ("llama",
// model/gguf_sentencepiece_model.h).
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& path);

}  // namespace qsweep
