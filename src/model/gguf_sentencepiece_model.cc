#include "model/gguf_sentencepiece_model.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_format.h"

namespace qsweep {
namespace {

// Protocol-buffer wire format, the few kinds ModelProto needs: varints
// (wire type 0), fixed 32-bit floats (5) and length-delimited bytes (2).
class ProtoWriter {
 public:
  void Varint(int field, uint64_t v) {
    Key(field, 0);
    Raw(v);
  }
  // int32 fields take negative values as their 64-bit two's complement.
  void Int32(int field, int64_t v) { Varint(field, static_cast<uint64_t>(v)); }
  void Float(int field, float v) {
    Key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  void Bytes(int field, const std::string& b) {
    Key(field, 2);
    Raw(b.size());
    out_ += b;
  }
  const std::string& str() const { return out_; }

 private:
  void Key(int field, int wire) { Raw(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
  void Raw(uint64_t v) {
    do {
      const uint8_t b = v & 0x7F;
      v >>= 7;
      out_.push_back(static_cast<char>(v ? b | 0x80 : b));
    } while (v);
  }
  std::string out_;
};

// Field numbers of sentencepiece_model.proto.
enum PieceField { kPiece = 1, kScore = 2, kType = 3 };
enum TrainerField {
  kModelType = 3, kVocabSize = 4, kSplitDigits = 25, kAllowWhitespaceOnlyPieces = 26, kByteFallback = 35,
  kUnkId = 40, kBosId = 41, kEosId = 42, kPadId = 43
};
enum NormalizerField { kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5 };
enum ModelField { kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3 };
constexpr int kBpe = 2, kTypeUnknown = 2, kTypeByte = 6;

}  // namespace

absl::StatusOr<std::string> GgufSentencePieceModel(const GgufTokenizerInfo& t, const std::string& source) {
  const int64_t n = static_cast<int64_t>(t.tokens.size());
  if (n == 0)
    return absl::InvalidArgumentError(absl::StrFormat("%s: the GGUF file holds no tokenizer.ggml.tokens", source));
  if (static_cast<int64_t>(t.scores.size()) != n || static_cast<int64_t>(t.token_type.size()) != n)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: a SentencePiece vocabulary needs tokenizer.ggml.scores and token_type for its %d tokens (%d and %d)",
        source, n, t.scores.size(), t.token_type.size()));
  int64_t unk = t.unk_id;
  bool bytes = false;
  for (int64_t i = 0; i < n; ++i) {
    if (t.token_type[i] < 1 || t.token_type[i] > 6)
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: token %d has tokenizer.ggml.token_type %d (1..6)", source, i, t.token_type[i]));
    if (unk < 0 && t.token_type[i] == kTypeUnknown) unk = i;
    bytes = bytes || t.token_type[i] == kTypeByte;
  }
  const std::pair<const char*, int64_t> specials[] = {{"unknown", unk}, {"BOS", t.bos_id}, {"EOS", t.eos_id},
                                                      {"padding", t.pad_id}};
  for (const auto& [what, id] : specials)
    if (id >= n)
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: the %s token id %d is outside the vocabulary of %d", source, what, id, n));
  if (unk < 0)
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: the SentencePiece vocabulary has no unknown token", source));
  ProtoWriter model;
  for (int64_t i = 0; i < n; ++i) {
    ProtoWriter piece;
    piece.Bytes(kPiece, t.tokens[i]);
    piece.Float(kScore, t.scores[i]);
    piece.Varint(kType, static_cast<uint64_t>(t.token_type[i]));
    model.Bytes(kPieces, piece.str());
  }
  ProtoWriter trainer;
  trainer.Varint(kModelType, kBpe);
  trainer.Int32(kVocabSize, n);
  trainer.Varint(kSplitDigits, 1);
  trainer.Varint(kAllowWhitespaceOnlyPieces, 1);
  trainer.Varint(kByteFallback, bytes ? 1 : 0);
  trainer.Int32(kUnkId, unk);
  trainer.Int32(kBosId, t.bos_id);
  trainer.Int32(kEosId, t.eos_id);
  trainer.Int32(kPadId, t.pad_id);
  model.Bytes(kTrainerSpec, trainer.str());
  ProtoWriter normalizer;
  normalizer.Bytes(kName, "identity");
  normalizer.Varint(kAddDummyPrefix, t.add_space_prefix ? 1 : 0);
  normalizer.Varint(kRemoveExtraWhitespaces, 0);
  normalizer.Varint(kEscapeWhitespaces, 1);
  model.Bytes(kNormalizerSpec, normalizer.str());
  return model.str();
}

}  // namespace qsweep
