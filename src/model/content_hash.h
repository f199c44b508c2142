// A stable 64-bit hash for checkpoint content ids: FNV-1a over bytes with a
// final avalanche mix. Stable across builds and machines (unlike absl::Hash),
// which is what run files need to compare checkpoints. Not cryptographic:
// it tells apart different checkpoints, it does not resist forgery.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "model/model_config.h"

namespace qsweep {

class ContentHasher {
 public:
  void Update(const void* data, size_t n);
  void Update(std::string_view s);  // length-prefixed, so "ab"+"c" != "a"+"bc"
  void Update(uint64_t v);
  // Every field of the config that changes what the weights compute.
  void Update(const ModelConfig& c);
  // Every byte of a large buffer (weights), fast: `chunk`-byte chunks
  // hashed in parallel, each by four lanes of a word-wise mix (an odd
  // multiply and a xorshift per 8 bytes, each step a bijection of the lane,
  // so a change to any single word always changes the digest), their
  // digests then folded in in order. A function of the bytes and `chunk`
  // alone, not of the threads.
  void UpdateLarge(const void* data, size_t n, size_t chunk = size_t{64} << 20);
  uint64_t Digest() const;
  std::string Hex() const;  // 16 lowercase hex digits

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace qsweep
