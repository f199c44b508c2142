#include "tokenizer/byte_level_alphabet.h"

#include <array>
#include <cstdint>


namespace qsweep {
namespace {

struct Alphabet {
  std::array<std::string, 256> byte_to_char;   // UTF-8 of the stand-in character
  std::array<int, 512> codepoint_to_byte;      // -1 outside the alphabet
};

std::string EncodeCodepoint(uint32_t cp) {  // cp < 0x800 here
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

const Alphabet& GetAlphabet() {
  static const Alphabet* alphabet = [] {
    auto* a = new Alphabet;
    a->codepoint_to_byte.fill(-1);
    uint32_t next_unprintable = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next_unprintable++;
      a->byte_to_char[b] = EncodeCodepoint(cp);
      a->codepoint_to_byte[cp] = b;
    }
    return a;
  }();
  return *alphabet;
}

}  // namespace

std::string ByteLevelEncode(std::string_view bytes) {
  const Alphabet& a = GetAlphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += a.byte_to_char[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> ByteLevelDecode(std::string_view token) {
  const Alphabet& a = GetAlphabet();
  std::string out;
  size_t i = 0;
  while (i < token.size()) {
    const auto c0 = static_cast<unsigned char>(token[i]);
    uint32_t cp;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < token.size()) {
      cp = ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(token[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return std::nullopt;  // three- and four-byte characters are never in it
    }
    if (cp >= a.codepoint_to_byte.size() || a.codepoint_to_byte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(a.codepoint_to_byte[cp]));
  }
  return out;
}

}  // namespace qsweep
