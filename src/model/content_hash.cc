#include "model/content_hash.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"

namespace qsweep {

void ContentHasher::Update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = h_;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  h_ = h;
}

void ContentHasher::Update(std::string_view s) {
  Update(static_cast<uint64_t>(s.size()));
  Update(s.data(), s.size());
}

void ContentHasher::Update(uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  Update(b, 8);
}

static uint64_t Avalanche(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t ChunkDigest(const unsigned char* p, size_t n) {
  uint64_t lane[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      lane[l] = (lane[l] ^ w) * 0x9e3779b97f4a7c15ull;
      lane[l] ^= lane[l] >> 29;
    }
  for (; i < n; ++i) lane[0] = (lane[0] ^ p[i]) * 0x100000001b3ull;
  uint64_t h = Avalanche(n);
  for (const uint64_t v : lane) h = Avalanche(h ^ v);
  return h;
}

void ContentHasher::UpdateLarge(const void* data, size_t n, size_t chunk) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (chunk == 0) chunk = size_t{64} << 20;
  const size_t chunks = (n + chunk - 1) / chunk;
  std::vector<uint64_t> digests(chunks);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t c = 0; c < chunks; ++c) digests[c] = ChunkDigest(p + c * chunk, std::min(chunk, n - c * chunk));
  Update(static_cast<uint64_t>(n));
  for (const uint64_t d : digests) Update(d);
}

static uint64_t DoubleBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

void ContentHasher::Update(const ModelConfig& c) {
  Update(std::string_view(c.architecture));
  for (int64_t v : {c.vocab_size, c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads,
                    c.num_kv_heads, c.head_dim, c.max_position_embeddings})
    Update(static_cast<uint64_t>(v));
  Update(DoubleBits(c.rms_norm_eps));
  Update(DoubleBits(c.rope_theta));
  Update(static_cast<uint64_t>(c.rope_scaling.type));
  Update(DoubleBits(c.rope_scaling.factor));
  Update(DoubleBits(c.rope_scaling.low_freq_factor));
  Update(DoubleBits(c.rope_scaling.high_freq_factor));
  Update(static_cast<uint64_t>(c.rope_scaling.original_max_position_embeddings));
  Update(static_cast<uint64_t>(c.tie_word_embeddings));
  Update(static_cast<uint64_t>(c.attention_bias));
  Update(static_cast<uint64_t>(c.sliding_window));
  Update(static_cast<uint64_t>(c.dtype));
}

uint64_t ContentHasher::Digest() const {
  // splitmix64 finalizer: FNV's high bits mix poorly on their own.
  uint64_t z = h_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string ContentHasher::Hex() const { return absl::StrFormat("%016x", Digest()); }

}  // namespace qsweep
