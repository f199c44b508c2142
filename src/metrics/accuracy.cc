#include "metrics/accuracy.h"

#include <limits>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "metrics/choice_softmax.h"

namespace qsweep::metrics {
namespace {

double Fraction(int64_t k, int64_t n) {
  return n == 0 ? std::numeric_limits<double>::quiet_NaN()
                : static_cast<double>(k) / static_cast<double>(n);
}

}  // namespace

absl::StatusOr<ChoiceAccuracy> ScoreChoices(const ChoiceScores& s, ChoiceRule rule) {
  QSWEEP_RETURN_IF_ERROR(ValidateChoiceScores(s));
  if (rule == ChoiceRule::kAccNorm && s.bytes.empty())
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: acc_norm needs choice_bytes, which are missing", s.what));
  ChoiceAccuracy out;
  out.prediction.resize(s.n_samples);
  out.correct.resize(s.n_samples);
  std::vector<double> score;
  for (int64_t i = 0; i < s.n_samples; ++i) {
    const int c = s.n_choices[i];
    score.resize(c);
    for (int j = 0; j < c; ++j)
      score[j] = rule == ChoiceRule::kAcc ? s.LogProb(i, j) : s.LogProb(i, j) / s.Bytes(i, j);
    out.prediction[i] = ArgMax(score);
    out.correct[i] = out.prediction[i] == s.label[i];
    out.n_correct += out.correct[i];
  }
  out.accuracy = Fraction(out.n_correct, s.n_samples);
  return out;
}

absl::StatusOr<AccuracyDelta> CompareAccuracy(std::span<const uint8_t> base_correct,
                                              std::span<const uint8_t> cand_correct) {
  if (base_correct.size() != cand_correct.size())
    return absl::InvalidArgumentError(absl::StrFormat(
        "accuracy: baseline has %d samples, candidate %d", base_correct.size(), cand_correct.size()));
  int64_t nb = 0, nq = 0;
  for (size_t i = 0; i < base_correct.size(); ++i) {
    nb += base_correct[i] != 0;
    nq += cand_correct[i] != 0;
  }
  const auto n = static_cast<int64_t>(base_correct.size());
  AccuracyDelta d;
  d.base = Fraction(nb, n);
  d.candidate = Fraction(nq, n);
  d.delta = d.candidate - d.base;
  return d;
}

}  // namespace qsweep::metrics
