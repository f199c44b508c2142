#include "metrics/answer_kl.h"

#include <algorithm>
#include <cmath>

#include "core/status_macros.h"
#include "metrics/choice_softmax.h"
#include "metrics/percentile.h"

namespace qsweep::metrics {

absl::StatusOr<AnswerKl> ComputeAnswerKl(const ChoiceScores& base, const ChoiceScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedChoiceScores(base, cand));
  AnswerKl out;
  out.per_sample.resize(base.n_samples);
  std::vector<double> lp, lq;
  for (int64_t i = 0; i < base.n_samples; ++i) {
    const int c = base.n_choices[i];
    SampleLogSoftmax(base, i, &lp);
    SampleLogSoftmax(cand, i, &lq);
    double kl = 0.0;
    for (int j = 0; j < c; ++j) {
      const double p = std::exp(lp[j]);
      if (p == 0.0) continue;  // 0 * log(0 / q) = 0
      kl += p * (lp[j] - lq[j]);
    }
    out.per_sample[i] = std::max(0.0, kl);
  }
  out.summary = SummarizeAnswerKl(out.per_sample);
  return out;
}

AnswerKlSummary SummarizeAnswerKl(std::span<const double> per_sample) {
  const double qs[] = {50.0, 95.0, 100.0};
  const std::vector<double> p = Percentiles(per_sample, qs);
  return AnswerKlSummary{Mean(per_sample), p[0], p[1], p[2]};
}

}  // namespace qsweep::metrics
