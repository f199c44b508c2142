// A PCRE2 regular expression over UTF-8 text with Unicode properties
// (PCRE2_UTF | PCRE2_UCP), JIT-compiled where PCRE2 has a JIT, and the
// "Isolated" split of HF tokenizers' Split pre-tokenizer built on it.
//
// HF compiles these patterns with Oniguruma. For the Llama 3 / Qwen2 / GPT-2
// patterns the two engines agree (leftmost-first alternation, same \p{L},
// \p{N}, \s incl. U+0085) except where their Unicode tables differ, e.g.
// PCRE2's \s also takes U+180E MONGOLIAN VOWEL SEPARATOR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

class UnicodeRegex {
 public:
  // Errors name the PCRE2 problem and its offset in the pattern.
  static absl::StatusOr<UnicodeRegex> Compile(std::string_view pattern);

  // The first match at or after `from` as [*begin, *end); false if none.
  // `text` must be valid UTF-8.
  bool Find(std::string_view text, size_t from, size_t* begin, size_t* end) const;

  // Whether a match starts exactly at `at`.
  bool MatchesAt(std::string_view text, size_t at) const;

 private:
  struct Code;
  explicit UnicodeRegex(std::shared_ptr<const Code> code) : code_(std::move(code)) {}
  bool Match(std::string_view text, size_t from, uint32_t options, size_t* begin,
             size_t* end) const;

  std::shared_ptr<const Code> code_;  // immutable, shared by copies and threads
};

// Appends to `pieces` every match of `regex` in `text` and every non-empty gap
// between matches, in order (HF's SplitDelimiterBehavior::Isolated, invert
// false). Empty matches make no piece.
void SplitIsolated(const UnicodeRegex& regex, std::string_view text,
                   std::vector<std::string_view>* pieces);

}  // namespace qsweep
