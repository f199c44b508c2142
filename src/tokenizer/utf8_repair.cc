#include "tokenizer/utf8_repair.h"

namespace qsweep {
namespace {

// Number of bytes a sequence with this lead byte has, 0 for a byte that can
// never start one (continuation bytes, C0, C1, F5..FF).
int SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The second byte's range depends on the lead (Table 3-7): it excludes
// overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
bool SecondByteValid(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

}  // namespace

std::string RepairUtf8(std::string_view bytes) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    const int len = SequenceLength(lead);
    if (len == 1) {
      out.push_back(bytes[i++]);
      continue;
    }
    if (len == 0) {  // a byte that starts nothing is a subpart of its own
      out += kReplacement;
      ++i;
      continue;
    }
    // Take continuation bytes while they can still complete the sequence;
    // the bytes taken so far form the maximal subpart if it breaks off.
    int valid = 1;
    while (valid < len && i + valid < n) {
      const auto b = static_cast<unsigned char>(bytes[i + valid]);
      const bool ok = valid == 1 ? SecondByteValid(lead, b) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++valid;
    }
    if (valid == len) {
      out.append(bytes.substr(i, len));
    } else {
      out += kReplacement;
    }
    i += valid;
  }
  return out;
}

size_t Utf8CharLength(std::string_view text, size_t pos) {
  const int len = SequenceLength(static_cast<unsigned char>(text[pos]));
  if (len == 0 || pos + len > text.size()) return 1;
  return static_cast<size_t>(len);
}

}  // namespace qsweep
