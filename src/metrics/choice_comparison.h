// Everything the metrics report for one task, baseline vs one candidate, in
// one call: accuracy (acc and, when bytes are stored, acc_norm), Δacc, flips,
// McNemar, paired bootstrap CIs, answer-level KL and the top-margin bins.
// Thin composition of the one-concept files beside it.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/accuracy.h"
#include "metrics/answer_kl.h"
#include "metrics/bootstrap.h"
#include "metrics/choice_scores.h"
#include "metrics/flips.h"
#include "metrics/mcnemar.h"
#include "metrics/top_margin.h"

namespace qsweep::metrics {

struct ChoiceComparisonOptions {
  BootstrapOptions bootstrap;
  std::vector<double> margin_edges{std::begin(kDefaultMarginEdges), std::end(kDefaultMarginEdges)};
};

// The correctness-based metrics under one scoring rule.
struct RuleComparison {
  ChoiceAccuracy base;
  ChoiceAccuracy candidate;
  AccuracyDelta accuracy;
  Flips flips;
  McNemar mcnemar;
  ChoiceIntervals intervals;  // Δacc, flip rates, mean answer KL
};

struct ChoiceComparison {
  RuleComparison acc;
  std::optional<RuleComparison> acc_norm;  // when both runs store choice_bytes
  AnswerKl answer_kl;                      // does not depend on the rule
  TopMargins margins;                      // flip probability from acc's flips
};

absl::StatusOr<ChoiceComparison> CompareChoiceRuns(const ChoiceScores& base,
                                                   const ChoiceScores& cand,
                                                   const ChoiceComparisonOptions& options = {});

}  // namespace qsweep::metrics
