// No Abseil header may be included here (see sentencepiece_shim.h).
#include "tokenizer/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

namespace qsweep {

struct SentencePieceShim::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

SentencePieceShim::SentencePieceShim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SentencePieceShim::~SentencePieceShim() = default;

std::unique_ptr<SentencePieceShim> SentencePieceShim::Load(const std::string& path,
                                                           std::string* error) {
  auto impl = std::make_unique<Impl>();
  const auto status = impl->sp.Load(path);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceShim>(new SentencePieceShim(std::move(impl)));
}

std::unique_ptr<SentencePieceShim> SentencePieceShim::LoadSerialized(std::string_view model, std::string* error) {
  auto impl = std::make_unique<Impl>();
  const auto status = impl->sp.LoadFromSerializedProto(model);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceShim>(new SentencePieceShim(std::move(impl)));
}

std::vector<int32_t> SentencePieceShim::Encode(std::string_view text) const {
  std::vector<int> ids;
  // Encoding valid UTF-8 with a loaded model does not fail; on failure the
  // ids stay empty.
  (void)impl_->sp.Encode(text, &ids);
  return {ids.begin(), ids.end()};
}

std::string SentencePieceShim::Decode(const std::vector<int32_t>& ids) const {
  std::vector<int> in;
  const int size = impl_->sp.GetPieceSize();
  for (int32_t id : ids) {
    if (id >= 0 && id < size) in.push_back(id);  // sentencepiece aborts on others
  }
  std::string text;
  (void)impl_->sp.Decode(in, &text);
  return text;
}

std::string SentencePieceShim::IdToPiece(int32_t id) const { return impl_->sp.IdToPiece(id); }
int32_t SentencePieceShim::PieceToId(std::string_view piece) const { return impl_->sp.PieceToId(piece); }
int32_t SentencePieceShim::vocab_size() const { return impl_->sp.GetPieceSize(); }
int32_t SentencePieceShim::bos_id() const { return impl_->sp.bos_id(); }
int32_t SentencePieceShim::eos_id() const { return impl_->sp.eos_id(); }
int32_t SentencePieceShim::unk_id() const { return impl_->sp.unk_id(); }
float SentencePieceShim::Score(int32_t id) const { return impl_->sp.GetScore(id); }
int SentencePieceShim::Type(int32_t id) const {
  const auto& sp = impl_->sp;
  return sp.IsUnknown(id) ? 2 : sp.IsControl(id) ? 3 : sp.IsUnused(id) ? 5 : sp.IsByte(id) ? 6 : 1;
}

}  // namespace qsweep
