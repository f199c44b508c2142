#include "metrics/choice_softmax.h"

#include <algorithm>
#include <cmath>

#include "core/status_macros.h"

namespace qsweep::metrics {

void LogSoftmaxInto(std::span<const double> x, std::span<double> out) {
  QSWEEP_CHECK(!x.empty() && out.size() == x.size());
  const double m = *std::max_element(x.begin(), x.end());
  QSWEEP_CHECK(std::isfinite(m));
  double sum = 0.0;
  for (double v : x) sum += std::exp(v - m);  // every term <= 1, the max term is exactly 1
  const double lse = m + std::log(sum);
  for (size_t j = 0; j < x.size(); ++j) out[j] = x[j] - lse;
}

void SampleLogSoftmax(const ChoiceScores& s, int64_t i, std::vector<double>* out) {
  out->resize(s.n_choices[i]);
  LogSoftmaxInto(s.logprob.subspan(i * s.max_choices, s.n_choices[i]), *out);
}

absl::StatusOr<std::vector<double>> ChoiceProbabilities(const ChoiceScores& s) {
  QSWEEP_RETURN_IF_ERROR(ValidateChoiceScores(s));
  std::vector<double> p(static_cast<size_t>(s.n_samples * s.max_choices), 0.0);
  std::vector<double> lp;
  for (int64_t i = 0; i < s.n_samples; ++i) {
    SampleLogSoftmax(s, i, &lp);
    for (size_t j = 0; j < lp.size(); ++j) p[i * s.max_choices + j] = std::exp(lp[j]);
  }
  return p;
}

int ArgMax(std::span<const double> x) {
  QSWEEP_CHECK(!x.empty());
  int best = 0;
  for (size_t j = 1; j < x.size(); ++j)
    if (x[j] > x[best]) best = static_cast<int>(j);  // strict: ties keep the lower index
  return best;
}

}  // namespace qsweep::metrics
