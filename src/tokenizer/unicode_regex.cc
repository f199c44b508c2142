#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep {

struct UnicodeRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

absl::StatusOr<UnicodeRegex> UnicodeRegex::Compile(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrFormat(
        "regex %s does not compile: %s at offset %d", std::string(pattern),
        reinterpret_cast<const char*>(message), static_cast<int>(error_offset)));
  }
  // Without a JIT (or if it fails) pcre2_match interprets: slower, same result.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  auto holder = std::make_shared<Code>();
  holder->code = code;
  return UnicodeRegex(std::move(holder));
}

bool UnicodeRegex::Match(std::string_view text, size_t from, uint32_t options, size_t* begin,
                         size_t* end) const {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = pcre2_match(code_->code, subject, text.size(), from, options | PCRE2_NO_UTF_CHECK,
                       data, nullptr);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    // The JIT's small default stack ran out (very long runs): interpret instead.
    rc = pcre2_match(code_->code, subject, text.size(), from,
                     options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data, nullptr);
  }
  bool found = rc > 0;
  if (found) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    *begin = ov[0];
    *end = ov[1];
  }
  pcre2_match_data_free(data);
  // Other negative codes (match or heap limits) would mean a pathological
  // pattern; treating them as "no further match" keeps the text as a gap.
  return found;
}

bool UnicodeRegex::Find(std::string_view text, size_t from, size_t* begin, size_t* end) const {
  return Match(text, from, 0, begin, end);
}

bool UnicodeRegex::MatchesAt(std::string_view text, size_t at) const {
  size_t b, e;
  return Match(text, at, PCRE2_ANCHORED, &b, &e);
}

void SplitIsolated(const UnicodeRegex& regex, std::string_view text,
                   std::vector<std::string_view>* pieces) {
  size_t gap_begin = 0;
  size_t from = 0;
  size_t begin, end;
  while (from <= text.size() && regex.Find(text, from, &begin, &end)) {
    if (end == begin) {  // an empty match: step over one character
      if (begin >= text.size()) break;
      from = begin + Utf8CharLength(text, begin);
      continue;
    }
    if (begin > gap_begin) pieces->push_back(text.substr(gap_begin, begin - gap_begin));
    pieces->push_back(text.substr(begin, end - begin));
    gap_begin = from = end;
  }
  if (gap_begin < text.size()) pieces->push_back(text.substr(gap_begin));
}

}  // namespace qsweep
