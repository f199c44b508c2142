// Tokenized requests: what `qsweep prepare` writes once and every scheme of
// a sweep scores, so that all runs score exactly the same tokens.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/tasks/gen_task.h"

namespace qsweep {

struct McSampleRequest {
  int64_t sample_id = 0;
  int32_t label = 0;
  // One context shared by every choice, or one per choice (partial scoring,
  // WinoGrande). Contexts start with BOS when the model's tokenizer has one.
  std::vector<std::vector<int32_t>> contexts;
  std::vector<std::vector<int32_t>> continuations;  // the scored tokens of each choice
  // acc_norm's length of each choice, as lm-eval's len(choice): Unicode
  // characters of the choice without the target delimiter
  // (tasks::ChoiceLength). The name is the request file's, kept from when it
  // held UTF-8 bytes of the continuation.
  std::vector<int64_t> continuation_bytes;
  int64_t choices() const { return static_cast<int64_t>(continuations.size()); }
  const std::vector<int32_t>& context(int64_t choice) const {
    return contexts.size() == 1 ? contexts[0] : contexts[choice];
  }
};

struct McTaskRequests {
  std::string name;
  std::vector<McSampleRequest> samples;
  int64_t max_choices() const;
};

// A perplexity corpus: the whole token stream (BOS first); windows of
// `window` tokens every `stride` tokens score every token after the first once.
struct PplCorpusRequests {
  std::string name;
  std::vector<int32_t> tokens;
  int64_t window = 512;
  int64_t stride = 256;
  int64_t scored_tokens() const { return tokens.empty() ? 0 : static_cast<int64_t>(tokens.size()) - 1; }
};

// A generative task: each sample's prompt tokenized (BOS first when the
// tokenizer has one), and what scores its continuation (answers, scorer,
// stop strings; max_tokens resolved: never 0).
struct GenSampleRequest {
  tasks::GenSample sample;
  std::vector<int32_t> prompt;
};

struct GenTaskRequests {
  std::string name;
  std::vector<GenSampleRequest> samples;
  int32_t max_tokens() const;  // the most any sample may generate
  int64_t max_prompt() const;  // the longest prompt
};

// The samples' text fields (GenSample), as the request file stores them;
// the decoder refuses bytes that do not decode back to `n` samples.
std::vector<uint8_t> EncodeGenSamples(const GenTaskRequests& task);
absl::Status DecodeGenSamples(const std::vector<uint8_t>& bytes, GenTaskRequests& task);

struct RequestSet {
  std::string tokenizer;  // what tokenized it (path and content id)
  std::vector<McTaskRequests> tasks;
  std::vector<PplCorpusRequests> corpora;
  std::vector<GenTaskRequests> gen_tasks;
  // A hash of every name, token, label and choice length (hex): run files carry
  // it, and metrics refuse runs whose ids differ.
  std::string ContentId() const;
};

// Every token id of `r` within a model's vocabulary [0, vocab) (`model`
// names it): else an error naming the first task, corpus or sample that
// holds one outside, since its tokenizer is not the model's.
absl::Status CheckTokenIds(const RequestSet& r, int64_t vocab, std::string_view model);

}  // namespace qsweep
