#include "eval/prepare.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

struct EncodedPair {
  std::vector<int32_t> context, continuation;
};

EncodedPair EncodePair(const Tokenizer& tok, std::string context, std::string continuation) {
  size_t keep = context.size();
  while (keep > 0 && (context[keep - 1] == ' ' || context[keep - 1] == '\t' ||
                      context[keep - 1] == '\n' || context[keep - 1] == '\r'))
    --keep;
  continuation = context.substr(keep) + continuation;
  context.resize(keep);
  const std::vector<int32_t> whole = tok.Encode(context + continuation);
  EncodedPair p;
  p.context = tok.Encode(context);
  const size_t n = std::min(p.context.size(), whole.size());
  p.continuation.assign(whole.begin() + n, whole.end());
  return p;
}

}  // namespace

absl::StatusOr<RequestSet> TokenizeRequests(const Tokenizer& tok, const std::vector<tasks::McTask>& mc_tasks,
                                            const std::vector<TextCorpus>& corpora,
                                            const PrepareOptions& options) {
  if (options.window < 2 || options.stride < 1 || options.stride >= options.window)
    return absl::InvalidArgumentError(absl::StrFormat(
        "perplexity window %d and stride %d: need window >= 2 and 1 <= stride < window",
        options.window, options.stride));
  const bool bos = options.add_bos && tok.bos_id() >= 0;
  RequestSet set;
  for (const tasks::McTask& task : mc_tasks) {
    // ChoiceLength relies on every continuation starting with the delimiter.
    QSWEEP_RETURN_IF_ERROR(tasks::ValidateTask(task));
    McTaskRequests t;
    t.name = task.name;
    for (size_t i = 0; i < task.samples.size(); ++i) {
      const tasks::McSample& s = task.samples[i];
      McSampleRequest r;
      r.sample_id = static_cast<int64_t>(i);
      r.label = s.label;
      for (size_t c = 0; c < s.continuations.size(); ++c) {
        const std::string& ctx = s.contexts.size() == 1 ? s.contexts[0] : s.contexts[c];
        EncodedPair p = EncodePair(tok, ctx, s.continuations[c]);
        if (p.continuation.empty())
          return absl::InvalidArgumentError(absl::StrFormat(
              "task %s, sample '%s', choice %d: the continuation has no tokens", task.name, s.id, c));
        if (bos) p.context.insert(p.context.begin(), tok.bos_id());
        if (p.context.empty())
          return absl::InvalidArgumentError(absl::StrFormat(
              "task %s, sample '%s': empty context and the tokenizer has no BOS", task.name, s.id));
        if (s.contexts.size() != 1 || c == 0) r.contexts.push_back(std::move(p.context));
        else if (p.context != r.contexts[0])
          return absl::InternalError("a shared context encoded differently per choice");
        r.continuations.push_back(std::move(p.continuation));
        const int64_t length = tasks::ChoiceLength(s, c);
        if (length < 1)
          return absl::InvalidArgumentError(absl::StrFormat(
              "task %s, sample '%s', choice %d: no characters after the target delimiter", task.name, s.id, c));
        r.continuation_bytes.push_back(length);
      }
      t.samples.push_back(std::move(r));
    }
    set.tasks.push_back(std::move(t));
  }
  for (const TextCorpus& c : corpora) {
    PplCorpusRequests r;
    r.name = c.name;
    if (bos) r.tokens.push_back(tok.bos_id());
    const std::vector<int32_t> ids = tok.Encode(c.text);
    r.tokens.insert(r.tokens.end(), ids.begin(), ids.end());
    r.window = options.window;
    r.stride = options.stride;
    if (r.tokens.size() < 2)
      return absl::InvalidArgumentError(absl::StrFormat("corpus %s: fewer than 2 tokens", c.name));
    set.corpora.push_back(std::move(r));
  }
  return set;
}

absl::StatusOr<GenTaskRequests> TokenizeGenTask(const Tokenizer& tok, const tasks::GenTask& task, bool add_bos,
                                                int32_t default_max_tokens, int64_t context) {
  QSWEEP_RETURN_IF_ERROR(tasks::ValidateGenTask(task));
  if (default_max_tokens < 1 || default_max_tokens > tasks::kMaxGenTokens)
    return absl::InvalidArgumentError(absl::StrFormat("task %s: max_tokens %d (1..%d)", task.name,
                                                      default_max_tokens, tasks::kMaxGenTokens));
  GenTaskRequests t;
  t.name = task.name;
  for (const tasks::GenSample& s : task.samples) {
    GenSampleRequest r;
    r.sample = s;
    if (r.sample.max_tokens == 0) r.sample.max_tokens = default_max_tokens;
    if (add_bos && tok.bos_id() >= 0) r.prompt.push_back(tok.bos_id());
    const std::vector<int32_t> ids = tok.Encode(s.prompt);
    r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
    if (ids.empty())
      return absl::InvalidArgumentError(
          absl::StrFormat("task %s, sample '%s': the prompt has no tokens", task.name, s.id));
    if (static_cast<int64_t>(r.prompt.size()) + r.sample.max_tokens > context)
      return absl::InvalidArgumentError(absl::StrFormat(
          "task %s, sample '%s': a prompt of %d tokens and up to %d new ones exceed the model's %d positions",
          task.name, s.id, r.prompt.size(), r.sample.max_tokens, context));
    t.samples.push_back(std::move(r));
  }
  return t;
}

}  // namespace qsweep
