// libsentencepiece behind a header that names no Abseil type.
//
// <sentencepiece_processor.h> declares `namespace absl { using
// std::string_view; }`, which clashes with this build's Abseil (whose
// absl::string_view is its own class). So only sentencepiece_shim.cc includes
// it, and that file includes no Abseil header; everything else goes through
// this std-only interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qsweep {

class SentencePieceShim {
 public:
  // nullptr with `*error` set (sentencepiece's message) on failure.
  static std::unique_ptr<SentencePieceShim> Load(const std::string& path, std::string* error);
  // From a serialized ModelProto (what a tokenizer.model file holds).
  static std::unique_ptr<SentencePieceShim> LoadSerialized(std::string_view model, std::string* error);
  ~SentencePieceShim();

  std::vector<int32_t> Encode(std::string_view text) const;
  std::string Decode(const std::vector<int32_t>& ids) const;
  std::string IdToPiece(int32_t id) const;
  int32_t PieceToId(std::string_view piece) const;
  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t unk_id() const;
  // A piece's score, and its type as sentencepiece's ModelProto numbers
  // them (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
  float Score(int32_t id) const;
  int Type(int32_t id) const;

 private:
  struct Impl;
  explicit SentencePieceShim(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qsweep
