// Multiple-choice predictions and accuracy, as lm-evaluation-harness scores
// them: acc = argmax of the continuation log-likelihoods; acc_norm = argmax of
// log-likelihood / choice length (characters without the target delimiter, as
// lm-eval's len(choice); stored under the name "bytes"). Ties go to the lowest index (numpy.argmax).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/choice_scores.h"

namespace qsweep::metrics {

enum class ChoiceRule { kAcc, kAccNorm };

struct ChoiceAccuracy {
  std::vector<int32_t> prediction;  // [N] chosen index
  std::vector<uint8_t> correct;     // [N] 1 where prediction == label
  int64_t n_correct = 0;
  double accuracy = 0.0;            // n_correct / N (NaN for N = 0)
};

// Fails (InvalidArgument) on invalid scores, or for kAccNorm without bytes.
absl::StatusOr<ChoiceAccuracy> ScoreChoices(const ChoiceScores& s, ChoiceRule rule);

struct AccuracyDelta {
  double base = 0.0;
  double candidate = 0.0;
  double delta = 0.0;  // candidate - base
};

// Accuracies of two correctness masks over the same samples.
absl::StatusOr<AccuracyDelta> CompareAccuracy(std::span<const uint8_t> base_correct,
                                              std::span<const uint8_t> cand_correct);

}  // namespace qsweep::metrics
