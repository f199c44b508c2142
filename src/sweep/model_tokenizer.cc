#include "sweep/model_tokenizer.h"

#include "core/status_macros.h"
#include "model/gguf_checkpoint.h"
#include "model/gguf_sentencepiece_model.h"
#include "model/gguf_tokenizer_json.h"
#include "tokenizer/byte_level_bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace qsweep {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& path) {
  if (!path.ends_with(".gguf")) return LoadTokenizer(path);
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<GgufCheckpoint> gguf, GgufCheckpoint::Open(path));
  if (gguf->tokenizer().model == "llama") {
    QSWEEP_ASSIGN_OR_RETURN(const std::string model, GgufSentencePieceModel(gguf->tokenizer(), path));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> tok,
                            SentencePieceTokenizer::FromSerialized(model, path + " (its tokenizer)"));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  QSWEEP_ASSIGN_OR_RETURN(const std::string json, GgufTokenizerJson(gguf->tokenizer(), path));
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<ByteLevelBpeTokenizer> tok,
                          ByteLevelBpeTokenizer::FromJson(json, path + " (its tokenizer)"));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace qsweep
