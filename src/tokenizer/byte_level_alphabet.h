// GPT-2's byte-level alphabet (bytes_to_unicode): every byte is shown as a
// printable Unicode character, so byte-level BPE vocabularies are strings.
// Printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) map to
// themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
// (so the space 0x20 is 'Ġ' U+0120 and the newline 0x0A is 'Ċ' U+010A).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qsweep {

// The UTF-8 encoding of the character that stands for each byte of `bytes`.
std::string ByteLevelEncode(std::string_view bytes);

// The bytes a token of the alphabet stands for; nullopt when the token holds
// a character outside the alphabet.
std::optional<std::string> ByteLevelDecode(std::string_view token);

}  // namespace qsweep
