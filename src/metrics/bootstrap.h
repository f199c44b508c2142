// Paired bootstrap confidence intervals (percentile method) for means of
// per-sample quantities. "Paired": each replicate draws one set of N sample
// indices (with replacement) and applies it to every series, so a baseline and
// a candidate are always resampled together and their correlation is kept.
//
// Determinism: the generator is std::mt19937_64 seeded with `seed` (its output
// sequence is fixed by the C++ standard) and indices are drawn by our own
// rejection sampling (UniformIndex), not std::uniform_int_distribution, whose
// algorithm differs between standard libraries. Same inputs + seed give the
// same intervals everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep::metrics {

struct BootstrapOptions {
  int replicates = 1000;
  uint64_t seed = 0;
  double confidence = 0.95;  // interval = [q_(1-c)/2, q_(1+c)/2] of the replicate means
};

struct Interval {
  double estimate = 0.0;  // the statistic on the original samples
  double lo = 0.0;
  double hi = 0.0;
};

// Uniform integer in [0, n), n >= 1: rejects draws of the top partial block of
// 2^64 so every residue is equally likely.
uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n);

// One interval per series; all series must have the same length N >= 1.
absl::StatusOr<std::vector<Interval>> PairedBootstrapMeans(
    std::span<const std::span<const double>> series, const BootstrapOptions& options);

// The multiple-choice intervals the metrics report, all from one set of draws:
// Δacc = mean(cand_correct - base_correct), flip rates, mean answer KL.
struct ChoiceIntervals {
  Interval delta_accuracy;
  Interval flip_rate;
  Interval correct_to_incorrect_rate;
  Interval incorrect_to_correct_rate;
  Interval mean_kl;
};

absl::StatusOr<ChoiceIntervals> BootstrapChoiceMetrics(std::span<const uint8_t> base_correct,
                                                       std::span<const uint8_t> cand_correct,
                                                       std::span<const double> answer_kl,
                                                       const BootstrapOptions& options);

}  // namespace qsweep::metrics
