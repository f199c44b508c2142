// A byte-level BPE tokenizer read from an HF tokenizer.json (GPT-2, Llama 3,
// Qwen2 style) that encodes exactly as HF `tokenizers` 0.23 does:
//   input bytes -> (Python's UTF-8 "replace" decoding) -> added tokens cut out
//   -> Split(regex, Isolated)* -> ByteLevel (byte alphabet) -> BPE per piece.
// The post-processor (BOS/EOS template) is not applied: callers add specials.
// What it cannot reproduce (normalizers, other pre-tokenizers or models,
// dropout) is refused at load time with the file named, never approximated.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_regex.h"

namespace qsweep {

class ByteLevelBpeTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> FromFile(const std::string& path);
  // `source` names the JSON's origin in error messages.
  static absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> FromJson(std::string_view json,
                                                                         const std::string& source);

  std::vector<int32_t> Encode(std::string_view text) const override;
  // Added tokens come out as their content; invalid UTF-8 that token
  // boundaries leave is replaced by U+FFFD, as HF's decoder does.
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }  // highest id + 1
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }

  std::optional<int32_t> TokenToId(std::string_view token) const;
  std::optional<std::string> Piece(int32_t id) const override;

 private:
  // ByteLevel pre-tokenizer settings; it is always the last step.
  struct ByteLevelStep {
    bool add_prefix_space = false;
    std::optional<UnicodeRegex> regex;  // GPT-2's pattern when use_regex is true
  };

  ByteLevelBpeTokenizer(std::unique_ptr<BpeModel> model, AddedVocabulary added,
                        std::vector<UnicodeRegex> splits, ByteLevelStep byte_level)
      : model_(std::move(model)),
        added_(std::move(added)),
        splits_(std::move(splits)),
        byte_level_(std::move(byte_level)) {}

  void EncodeSegment(std::string_view segment, std::vector<int32_t>* ids) const;

  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  std::vector<UnicodeRegex> splits_;  // Split pre-tokenizers, in order
  ByteLevelStep byte_level_;
  int64_t vocab_size_ = 0;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
};

}  // namespace qsweep
