#include "metrics/choice_comparison.h"

#include "core/status_macros.h"

namespace qsweep::metrics {
namespace {

absl::StatusOr<RuleComparison> CompareUnderRule(const ChoiceScores& base, const ChoiceScores& cand,
                                                ChoiceRule rule, std::span<const double> kl,
                                                const BootstrapOptions& bootstrap) {
  RuleComparison r;
  QSWEEP_ASSIGN_OR_RETURN(r.base, ScoreChoices(base, rule));
  QSWEEP_ASSIGN_OR_RETURN(r.candidate, ScoreChoices(cand, rule));
  QSWEEP_ASSIGN_OR_RETURN(r.accuracy, CompareAccuracy(r.base.correct, r.candidate.correct));
  QSWEEP_ASSIGN_OR_RETURN(r.flips, CountFlips(r.base.correct, r.candidate.correct));
  r.mcnemar = McNemarExact(r.flips.n_correct_to_incorrect, r.flips.n_incorrect_to_correct);
  if (base.n_samples > 0) {
    QSWEEP_ASSIGN_OR_RETURN(
        r.intervals, BootstrapChoiceMetrics(r.base.correct, r.candidate.correct, kl, bootstrap));
  }
  return r;
}

}  // namespace

absl::StatusOr<ChoiceComparison> CompareChoiceRuns(const ChoiceScores& base,
                                                   const ChoiceScores& cand,
                                                   const ChoiceComparisonOptions& options) {
  ChoiceComparison c;
  QSWEEP_ASSIGN_OR_RETURN(c.answer_kl, ComputeAnswerKl(base, cand));  // validates the pair
  QSWEEP_ASSIGN_OR_RETURN(
      c.acc, CompareUnderRule(base, cand, ChoiceRule::kAcc, c.answer_kl.per_sample, options.bootstrap));
  if (!base.bytes.empty() && !cand.bytes.empty()) {
    QSWEEP_ASSIGN_OR_RETURN(c.acc_norm, CompareUnderRule(base, cand, ChoiceRule::kAccNorm,
                                                         c.answer_kl.per_sample, options.bootstrap));
  }
  QSWEEP_ASSIGN_OR_RETURN(c.margins,
                          ComputeTopMargins(base, cand, c.acc.flips.flipped, options.margin_edges));
  return c;
}

}  // namespace qsweep::metrics
