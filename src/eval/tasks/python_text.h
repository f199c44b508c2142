// The few Python str operations lm-evaluation-harness's prompt code applies,
// reproduced byte for byte on UTF-8 so our prompts equal its prompts.
#pragma once
#include <string>
#include <string_view>

namespace qsweep::tasks {

// str.strip(): removes leading and trailing characters for which
// str.isspace() is true (ASCII \t\n\v\f\r, \x1c-\x1f, space, and the Unicode
// spaces U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000).
std::string PyStrip(std::string_view s);

// str.capitalize(): first character upper case, the rest lower case. Only
// ASCII letters change; other characters are kept (HellaSwag's text is
// English; a non-ASCII letter would differ from Python here).
std::string PyCapitalize(std::string_view s);

}  // namespace qsweep::tasks
