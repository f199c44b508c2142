#include "eval/tasks/python_text.h"

#include <cstdint>

namespace qsweep::tasks {
namespace {

bool IsPySpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Decodes the code point starting at s[i] (well-formed UTF-8 assumed; a bad
// byte decodes as itself, which is never a space above 0x7F). Sets `len`.
uint32_t DecodeAt(std::string_view s, size_t i, size_t& len) {
  const unsigned char c = s[i];
  len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (len == 1 || i + len > s.size()) {
    len = 1;
    return c;
  }
  uint32_t cp = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// Start of the code point that ends at s[end - 1].
size_t StartBefore(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && end - i < 4 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

std::string PyStrip(std::string_view s) {
  size_t begin = 0, end = s.size(), len = 0;
  while (begin < end && IsPySpace(DecodeAt(s, begin, len))) begin += len;
  while (end > begin) {
    const size_t start = StartBefore(s, end);
    if (start < begin || !IsPySpace(DecodeAt(s, start, len)) || start + len != end) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::string PyCapitalize(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (i == 0 && c >= 'a' && c <= 'z') out[i] = c - 'a' + 'A';
    if (i > 0 && c >= 'A' && c <= 'Z') out[i] = c - 'A' + 'a';
  }
  return out;
}

}  // namespace qsweep::tasks
