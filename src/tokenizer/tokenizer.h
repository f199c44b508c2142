// Text <-> token ids, equal to HF `tokenizers` / sentencepiece token for token.
// Implementations: SentencePieceTokenizer (tokenizer.model) and
// ByteLevelBpeTokenizer (tokenizer.json); input that is not valid UTF-8 is
// read as Python's bytes.decode("utf-8", errors="replace") reads it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Encodes without adding special tokens (BOS is the caller's choice).
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the tokenizer has none
  virtual int32_t eos_id() const = 0;
  // The vocabulary's entry for `id` as the tokenizer stores it (a
  // SentencePiece piece such as "▁the", a byte-level BPE token such as
  // "Ġthe", an added token's content); nullopt for an id it does not have.
  // What GGUF files list as tokenizer.ggml.tokens.
  virtual std::optional<std::string> Piece(int32_t id) const = 0;
};

// A tokenizer.model (sentencepiece), a tokenizer.json (HF byte-level BPE),
// or a directory holding one of them.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

}  // namespace qsweep
