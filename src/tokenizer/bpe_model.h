// HF tokenizers' BPE model: turns one pre-tokenized word into token ids by
// applying merges in rank order (lowest rank first, leftmost on ties), with
// ignore_merges, byte_fallback, unk / fuse_unk, subword prefix and suffix
// handled as tokenizers 0.23 does. Words already seen come from a cache.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace qsweep {

struct BpeOptions {
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool byte_fallback = false;  // unknown characters become <0xNN> byte tokens
  bool ignore_merges = false;  // a word found whole in the vocab is one token
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
};

class BpeModel {
 public:
  using Vocab = absl::flat_hash_map<std::string, int32_t>;
  using Merges = std::vector<std::pair<std::string, std::string>>;  // in rank order

  // Fails when a merge names a token that is not in the vocab, or the unk
  // token is not in it.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(Vocab vocab, const Merges& merges,
                                                          BpeOptions options);

  // Appends the ids of `word` (no empty-word tokens).
  void Tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  const std::string* IdToToken(int32_t id) const;  // nullptr if unknown
  int32_t max_id() const { return max_id_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  BpeModel() = default;
  std::vector<int32_t> MergeWord(std::string_view word) const;

  Vocab vocab_;
  absl::flat_hash_map<int32_t, std::string> vocab_r_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  int32_t max_id_ = -1;

  // Tokenize is const and may run on several threads: the cache is guarded.
  static constexpr size_t kCacheCapacity = 10000;  // as HF: stop adding when full
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace qsweep
