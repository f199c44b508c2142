// Greedy decoding with a KV cache, through a LogitScorer (one process, or a
// tensor-parallel group in lockstep): prompts are prefilled together, then
// every unfinished sequence advances one token per step, each step one
// forward of a row per sequence over the cache. The next token is the top-1
// of the whole vocabulary (the lowest id among equal logits, as argmax).
//
// Every sequence owns a contiguous range of cache rows, [base, base + prompt
// + max_tokens). A row's logits depend on its own tokens only (the scorer's
// kernels are batch-invariant), so which sequences share a step changes no
// result.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/logit_scorer.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

struct GenerationRequest {
  std::vector<int32_t> prompt;    // BOS first when the model has one
  int32_t max_tokens = 0;         // new tokens at most, >= 1
  std::vector<std::string> stop;  // stop strings: generation ends once the text holds one
};

// kNoFiniteLogit: the model's logits held no number to take the top-1 of (a
// broken scheme's NaN); the sequence ends there, that step's token left out.
enum class StopReason : uint8_t { kEos = 0, kStopString = 1, kLength = 2, kNoFiniteLogit = 3 };

struct GenerationResult {
  std::vector<int32_t> tokens;   // generated ids, the EOS that ended it included
  std::vector<float> logprobs;   // log p of each generated token
  std::string text;              // decoded, up to (without) the EOS or the first stop string
  StopReason stop = StopReason::kLength;
  // As this sequence saw it: the prefill of its group (its first token),
  // and the decode steps it took part in, each step's whole wall time.
  double ttft_ms = 0, decode_ms = 0;
};

struct GenerationOptions {
  // For stop strings and text; none: no text, and stop strings are an error.
  const Tokenizer* tokenizer = nullptr;
  std::vector<int32_t> eos_ids;          // any of these ends a sequence
  int64_t max_sequences = 32;            // sequences decoded together, 1 .. kMaxDecodeRows
  // Called after each step on the leader: tokens generated so far in this call.
  std::function<void(int64_t)> progress = nullptr;
};

// Time of one GenerateGreedy call, for the speed of a scheme.
struct GenerationTiming {
  double prefill_ms = 0, decode_ms = 0;
  int64_t prompt_tokens = 0, decode_steps = 0, generated_tokens = 0;
};

// Errors: an empty prompt, max_tokens < 1, stop strings without a tokenizer, a sequence longer than the
// scorer's KV cache or its batch, and the scorer's own.
absl::StatusOr<std::vector<GenerationResult>> GenerateGreedy(LogitScorer& scorer,
                                                             std::span<const GenerationRequest> requests,
                                                             const GenerationOptions& options,
                                                             GenerationTiming* timing = nullptr);

// Where the text of `tokens` ends: before the first occurrence of any stop
// string (npos when none occurs).
size_t FirstStop(const std::string& text, std::span<const std::string> stop);

}  // namespace qsweep
