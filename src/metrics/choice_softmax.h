// The answer distribution of a multiple-choice sample: the softmax over its
// n_choices continuation log-likelihoods (Dutta et al.'s "P over choices").
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/choice_scores.h"

namespace qsweep::metrics {

// out[j] = x[j] - logsumexp(x), computed stably (shifted by max x). x may hold
// -inf entries (probability 0) but at least one finite value.
void LogSoftmaxInto(std::span<const double> x, std::span<double> out);

// *out = the log answer distribution of sample i (its n_choices entries).
void SampleLogSoftmax(const ChoiceScores& s, int64_t i, std::vector<double>* out);

// [N, Cmax] choice probabilities per sample, 0 on padding entries.
absl::StatusOr<std::vector<double>> ChoiceProbabilities(const ChoiceScores& s);

// The first index of the largest value (numpy.argmax: ties go to the lowest index).
int ArgMax(std::span<const double> x);

}  // namespace qsweep::metrics
