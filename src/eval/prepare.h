// Tokenizes multiple-choice tasks and text corpora once into a RequestSet
// (`qsweep prepare`), so every scheme of a sweep scores the same tokens.
//
// Context/continuation split as lm-evaluation-harness's _encode_pair: the
// context's trailing whitespace moves to the continuation, the pair is
// encoded whole, and the continuation is what follows the context's own
// encoding. One deviation, on purpose: contexts start with BOS when the
// tokenizer has one (lm-eval's add_bos_token=True), because Llama-family
// models are trained with it; `add_bos = false` gives lm-eval's default.
//
// Each choice's acc_norm length (McSampleRequest::continuation_bytes) is
// tasks::ChoiceLength: characters (code points) of the choice without the
// target delimiter, as lm-eval divides by len(choice).
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/requests.h"
#include "eval/tasks/gen_task.h"
#include "eval/tasks/task.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

struct PrepareOptions {
  bool add_bos = true;
  int64_t window = 512;  // perplexity window and stride, in tokens
  int64_t stride = 256;
};

struct TextCorpus {
  std::string name;
  std::string text;
};

// Errors: a task that fails tasks::ValidateTask, a continuation with no
// tokens, an empty context without BOS, bad window/stride.
absl::StatusOr<RequestSet> TokenizeRequests(const Tokenizer& tokenizer,
                                            const std::vector<tasks::McTask>& mc_tasks,
                                            const std::vector<TextCorpus>& corpora,
                                            const PrepareOptions& options);

// A generative task's prompts tokenized (BOS first when asked and the
// tokenizer has one; a prompt is encoded whole, its trailing whitespace
// kept). `default_max_tokens` replaces a sample's max_tokens of 0; a prompt
// and its new tokens must fit `context` (the model's positions). Errors
// name the task and sample: a task that fails ValidateGenTask, a prompt of
// no tokens, one that does not leave room for its new tokens.
absl::StatusOr<GenTaskRequests> TokenizeGenTask(const Tokenizer& tokenizer, const tasks::GenTask& task, bool add_bos,
                                                int32_t default_max_tokens, int64_t context);

}  // namespace qsweep
