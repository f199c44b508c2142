// A sentencepiece model (tokenizer.model, e.g. Llama 2's) as a Tokenizer:
// Encode is sentencepiece's Encode (its normalizer and dummy prefix included,
// no BOS/EOS), after the same UTF-8 repair as Python's str gives it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/sentencepiece_shim.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

class SentencePieceTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromFile(const std::string& path);
  // A serialized ModelProto; errors name `source`.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromSerialized(std::string_view model,
                                                                                const std::string& source);

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return sp_->vocab_size(); }
  int32_t bos_id() const override { return sp_->bos_id(); }
  int32_t eos_id() const override { return sp_->eos_id(); }

  std::string IdToPiece(int32_t id) const { return sp_->IdToPiece(id); }
  std::optional<std::string> Piece(int32_t id) const override {
    if (id < 0 || id >= sp_->vocab_size()) return std::nullopt;
    return sp_->IdToPiece(id);
  }
  int32_t PieceToId(std::string_view piece) const { return sp_->PieceToId(piece); }
  float Score(int32_t id) const { return sp_->Score(id); }
  int Type(int32_t id) const { return sp_->Type(id); }

 private:
  explicit SentencePieceTokenizer(std::unique_ptr<SentencePieceShim> sp) : sp_(std::move(sp)) {}
  std::unique_ptr<SentencePieceShim> sp_;
};

}  // namespace qsweep
