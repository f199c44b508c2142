#include "tokenizer/sentencepiece_tokenizer.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromFile(
    const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(absl::StrFormat("%s: no such sentencepiece model file", path));
  }
  std::string error;
  std::unique_ptr<SentencePieceShim> sp = SentencePieceShim::Load(path, &error);
  if (sp == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: not a valid sentencepiece model: %s", path, error));
  }
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(sp)));
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromSerialized(
    std::string_view model, const std::string& source) {
  std::string error;
  std::unique_ptr<SentencePieceShim> sp = SentencePieceShim::LoadSerialized(model, &error);
  if (sp == nullptr)
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a valid sentencepiece model: %s", source, error));
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(sp)));
}

std::vector<int32_t> SentencePieceTokenizer::Encode(std::string_view text) const {
  return sp_->Encode(RepairUtf8(text));
}

std::string SentencePieceTokenizer::Decode(const std::vector<int32_t>& ids) const {
  return sp_->Decode(ids);
}

}  // namespace qsweep
