#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "tokenizer/byte_level_bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "core/input_file.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    // HF checkpoints ship tokenizer.json; llama2.c-style ones tokenizer.model.
    if (fs::exists(p / "tokenizer.json", ec)) return LoadTokenizer((p / "tokenizer.json").string());
    if (fs::exists(p / "tokenizer.model", ec)) return LoadTokenizer((p / "tokenizer.model").string());
    return absl::NotFoundError(
        absl::StrFormat("%s: directory has neither tokenizer.json nor tokenizer.model", path));
  }
  if (!fs::exists(p, ec)) return absl::NotFoundError(absl::StrFormat("%s: no such file", path));
  if (absl::Status regular = RequireRegularFile(path, "the tokenizer"); !regular.ok()) return regular;
  if (p.extension() == ".json") {
    auto tok = ByteLevelBpeTokenizer::FromFile(path);
    if (!tok.ok()) return tok.status();
    return std::unique_ptr<Tokenizer>(std::move(*tok));
  }
  if (p.extension() == ".model") {
    auto tok = SentencePieceTokenizer::FromFile(path);
    if (!tok.ok()) return tok.status();
    return std::unique_ptr<Tokenizer>(std::move(*tok));
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: unknown tokenizer file type (expected a .json or .model file, or a directory)", path));
}

}  // namespace qsweep
