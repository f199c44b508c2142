// GSM8K (grade-school math), as lm-evaluation-harness's gsm8k task with its
// "strict-match" filter, zero-shot. Rows {"question", "answer"} of the
// original release (openai/grade-school-math, HF "gsm8k" main), where
// "answer" is the worked solution ending in "#### <number>"; "id" is the id
// when present, else the row number (0, 1, ...).
//
// Per row: prompt "Question: " + question + "\nAnswer:" (lm-eval's
// doc_to_text); answers: the text after the last "####", trimmed (what
// lm-eval's regexes_to_ignore "(?s).*#### " leaves of the reference);
// scorer regex "#### (\-?[0-9\.\,]+)", first match; stop "Question:",
// "</s>", "<|im_end|>" (lm-eval's until); max_tokens 256.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "eval/tasks/gen_task.h"

namespace qsweep::tasks {

// lm-eval's gsm8k strict-match pattern.
inline constexpr char kGsm8kStrictPattern[] = R"(#### (\-?[0-9\.\,]+))";

// Errors: every error of the JSONL reader ("<file>:<line>: ..."), an
// "answer" with no "####" or nothing after it.
absl::StatusOr<GenTask> ImportGsm8k(const std::string& path, const std::string& name);

}  // namespace qsweep::tasks
