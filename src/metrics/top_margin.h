// Top-margin analysis: are flips concentrated on samples the baseline was
// unsure about? Per sample, over the baseline's answer distribution P_base
// (softmax over the choices):
//   margin = p1 - p2, the top two probabilities (p2 = 0 for a single choice);
//   top    = argmax_j P_base(j) (ties: lowest index; this is the acc prediction);
//   dp     = P_q(top) - P_base(top), how much the candidate moved the
//            baseline's chosen answer (negative: less sure of it).
// Samples are binned by margin; per bin: count, flip probability (share of the
// bin's samples flagged in `flipped`), mean |dp| and mean dp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/choice_scores.h"

namespace qsweep::metrics {

inline constexpr double kDefaultMarginEdges[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5,
                                                 0.6, 0.7, 0.8, 0.9, 1.0};

struct MarginBin {
  double lo = 0.0;  // bin is [lo, hi); the last bin is [lo, hi]
  double hi = 0.0;
  int64_t count = 0;
  int64_t n_flipped = 0;
  double flip_probability = 0.0;  // n_flipped / count; NaN for an empty bin
  double mean_abs_dp = 0.0;       // NaN for an empty bin
  double mean_dp = 0.0;           // NaN for an empty bin
};

struct TopMargins {
  std::vector<double> margin;  // [N]
  std::vector<double> dp;      // [N]
  std::vector<MarginBin> bins;
  int64_t n_outside = 0;  // samples whose margin falls outside [edges.front, edges.back]
};

// `flipped` is the flip mask ([N]) for whichever rule the caller reports
// (acc or acc_norm). `edges` must be strictly increasing, at least two.
absl::StatusOr<TopMargins> ComputeTopMargins(
    const ChoiceScores& base, const ChoiceScores& cand, std::span<const uint8_t> flipped,
    std::span<const double> edges = kDefaultMarginEdges);

}  // namespace qsweep::metrics
