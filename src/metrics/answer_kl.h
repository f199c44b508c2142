// Answer-level KL divergence KL(P_base || P_q), where P is the softmax over a
// sample's n_choices continuation log-likelihoods (Dutta et al.):
//   KL_i = sum_j P_base(j) * (log P_base(j) - log P_q(j)),
// with both log-softmaxes computed stably (log-sum-exp) from the raw scores.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "metrics/choice_scores.h"

namespace qsweep::metrics {

struct AnswerKlSummary {
  double mean = 0.0;
  double median = 0.0;
  double p95 = 0.0;
  double max = 0.0;
};

struct AnswerKl {
  std::vector<double> per_sample;  // [N], >= 0 (tiny negatives from rounding clamped to 0)
  AnswerKlSummary summary;         // percentiles as numpy's default (metrics/percentile.h)
};

// Fails when either run is invalid or the runs do not score the same samples.
// KL is +inf for a sample where the candidate gives -inf to a choice the
// baseline does not.
absl::StatusOr<AnswerKl> ComputeAnswerKl(const ChoiceScores& base, const ChoiceScores& cand);

AnswerKlSummary SummarizeAnswerKl(std::span<const double> per_sample);

}  // namespace qsweep::metrics
