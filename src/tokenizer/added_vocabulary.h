// HF's AddedVocabulary: added tokens (special or not) are cut out of the input
// before pre-tokenization. At each position the longest added token wins
// (leftmost-longest, as its Aho-Corasick automaton does), tokens with
// normalized=false are matched on the raw text first, normalized ones on the
// rest; lstrip / rstrip swallow adjacent whitespace and single_word demands
// that no word character touches the token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tokenizer/unicode_regex.h"

namespace qsweep {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A piece of the input: an added token (id >= 0) or text to pre-tokenize.
struct TextSegment {
  std::string_view text;
  int32_t added_id = -1;
};

class AddedVocabulary {
 public:
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  // `text` must be valid UTF-8; the segments view into it.
  std::vector<TextSegment> Split(std::string_view text) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* FindById(int32_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;

 private:
  // One matching pass over `text` with the tokens whose normalized flag is
  // `normalized`; appends to `out`.
  void FindMatches(std::string_view text, bool normalized, std::vector<TextSegment>* out) const;
  bool IsWordCharacter(std::string_view text, size_t pos) const;
  bool IsWhitespace(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> index_by_id_;  // first token with that id
  // Per first byte, indices of tokens starting with it, longest first.
  std::vector<std::vector<int>> by_first_byte_[2];
  UnicodeRegex word_char_;   // Rust's char::is_alphanumeric() or '_'
  UnicodeRegex whitespace_;  // Rust's char::is_whitespace()
};

}  // namespace qsweep
