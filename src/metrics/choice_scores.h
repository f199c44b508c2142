// One run's multiple-choice scores for one task, as stored in a run file's
// /tasks/<task>/ group: a view over arrays the caller owns.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace qsweep::metrics {

struct ChoiceScores {
  std::string what;  // names the source in error messages, e.g. "base.h5:/tasks/arc_easy"
  int64_t n_samples = 0;
  int64_t max_choices = 0;                  // Cmax: row length of logprob / bytes
  std::span<const int32_t> n_choices;       // [N], each in [1, Cmax]
  std::span<const int32_t> label;           // [N], each in [0, n_choices)
  std::span<const double> logprob;          // [N, Cmax] sum log p of each continuation; padding ignored
  std::span<const int32_t> bytes;           // [N, Cmax] acc_norm lengths (characters); may be empty (then no acc_norm)

  double LogProb(int64_t i, int64_t j) const { return logprob[i * max_choices + j]; }
  int32_t Bytes(int64_t i, int64_t j) const { return bytes[i * max_choices + j]; }
};

// Checks sizes, n_choices, labels, finiteness of the used log-probs, and
// positive byte counts when bytes are given. InvalidArgument names `what`,
// the array and the sample.
absl::Status ValidateChoiceScores(const ChoiceScores& s);

// Validates both runs and checks that they score the same samples: same N,
// same n_choices and labels per sample (a candidate from another task set is
// refused here rather than compared).
absl::Status ValidatePairedChoiceScores(const ChoiceScores& base, const ChoiceScores& cand);

}  // namespace qsweep::metrics
