// GGUF (llama.cpp's model file, version 3): the header, its metadata and its
// tensor directory, read as untrusted input (every count, length, offset and
// size bounds-checked against the file before use), the Llama-family
// architecture keys mapped onto ModelConfig and the tensors onto the
// canonical (HF) names. Tensors keep their ggml block format on disk and are
// dequantized exactly (quant/ggml_blocks.h) as they are read; a type that
// is not supported yet is refused at open, naming the tensor and the type.
//
// llama.cpp's converter reorders the rows of q_proj and k_proj of the
// "llama" architecture for its interleaved rotary convention (per head,
// HF row a·hd/2 + b becomes row 2b + a); reads undo it, so every reader of a
// checkpoint sees HF's layout. "qwen2" files keep HF's order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/lazy_content_id.h"

namespace qsweep {

// What a GGUF file says beyond the tensors: its tokenizer's identity, for
// the check that it is the baseline's model.
struct GgufTokenizerInfo {
  std::string model;  // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;    // tokenizer.ggml.pre: llama.cpp's name of the pre-tokenizer ("llama-bpe", "qwen2", ...)
  int64_t vocab_size = 0;  // entries of tokenizer.ggml.tokens
  int64_t bos_id = -1, eos_id = -1;
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens, by id
  std::vector<std::string> merges;  // tokenizer.ggml.merges ("a b"), in rank order
  // tokenizer.ggml.token_type by id (llama.cpp: 1 normal, 2 unknown, 3
  // control, 4 user-defined, 5 unused, 6 byte); empty when absent.
  std::vector<int32_t> token_type;
  // SentencePiece ("llama") vocabularies: tokenizer.ggml.scores by id, the
  // unknown and padding ids (-1: none given), and whether a space is put
  // before the text (tokenizer.ggml.add_space_prefix, true where absent).
  std::vector<float> scores;
  int64_t unk_id = -1, pad_id = -1;
  bool add_space_prefix = true;
};

// The ggml format of each tensor as stored, for run files and sizes.
struct GgufTensorFormat {
  std::string name;    // canonical
  std::string format;  // "Q4_K", "F16", ...
};

class GgufCheckpoint : public Checkpoint {
 public:
  static absl::StatusOr<std::unique_ptr<GgufCheckpoint>> Open(const std::string& path);
  const std::string& source() const override { return source_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string content_id() const override { return content_id_.Get(); }
  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override;

  absl::StatusOr<std::optional<QuantizedWeights>> ReadStoredRows(std::string_view name, int64_t begin,
                                                                 int64_t end) const override;

  const GgufTokenizerInfo& tokenizer() const { return tokenizer_; }
  std::vector<GgufTensorFormat> formats() const;
  std::vector<StoredFormat> stored_formats() const override;
  // Bits of the stored tensors over their weights (the file's own sizes:
  // Q4_K 4.5, Q6_K 6.5625, ...), and their bytes.
  double bits_per_weight() const;
  int64_t stored_bytes() const;

  ~GgufCheckpoint() override;

 private:
  struct Stored;
  GgufCheckpoint() = default;
  std::string source_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::vector<Stored> stored_;  // parallel to tensors_
  std::unique_ptr<class MappedFile> file_;
  GgufTokenizerInfo tokenizer_;
  LazyContentId content_id_;
};

}  // namespace qsweep
