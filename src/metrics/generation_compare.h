// Generative tasks, baseline vs one candidate: how far the candidate's
// greedy continuation follows the baseline's token for token, and how the
// answers' correctness moved (the flips of generation).
#pragma once

#include <cstdint>
#include <span>

namespace qsweep::metrics {

// Per sample of one generative task: a candidate's greedy continuation
// against the baseline's.
struct GenerationPair {
  // Token index of the first differing token; -1 when identical (same
  // length, same tokens). When one is a prefix of the other: the shorter length.
  int64_t first_difference = -1;
  // Fraction of positions i < max(len_base, len_cand) where both have a
  // token and the tokens are equal; 1 when both are empty.
  double token_agreement = 1.0;
};

GenerationPair CompareGenerations(std::span<const int32_t> base, std::span<const int32_t> cand);

struct GenerationSummary {
  int64_t samples = 0;
  double base_accuracy = 0, cand_accuracy = 0;  // NaN for no samples
  int64_t correct_to_incorrect = 0, incorrect_to_correct = 0;
  double identical = 0;              // fraction of samples with identical continuations (NaN for none)
  double mean_token_agreement = 0;   // NaN for no samples
  double mean_first_difference = 0;  // over the samples that differ; NaN when none differs
};

// The three spans are per sample, in the same order; their sizes must be
// equal (QSWEEP_CHECK: a caller's bug). Correctness is nonzero = correct.
GenerationSummary SummarizeGenerations(std::span<const uint8_t> base_correct, std::span<const uint8_t> cand_correct,
                                       std::span<const GenerationPair> pairs);

}  // namespace qsweep::metrics
