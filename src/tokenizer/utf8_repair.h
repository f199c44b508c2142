// Input bytes as Python's bytes.decode("utf-8", errors="replace") sees them.
//
// Reference encodings come from Python str, so invalid UTF-8 must become
// exactly the U+FFFD characters Python makes: one per maximal invalid subpart
// (Unicode 15, section 3.9, "U+FFFD Substitution of Maximal Subparts").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qsweep {

// Valid UTF-8 is returned unchanged; each maximal invalid subpart becomes
// U+FFFD (EF BF BD).
std::string RepairUtf8(std::string_view bytes);

// Length in bytes of the UTF-8 character starting at text[pos] in valid
// UTF-8 (1 for a stray byte, so that callers always make progress).
size_t Utf8CharLength(std::string_view text, size_t pos);

}  // namespace qsweep
