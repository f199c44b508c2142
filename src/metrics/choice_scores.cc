#include "metrics/choice_scores.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep::metrics {

absl::Status ValidateChoiceScores(const ChoiceScores& s) {
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", s.what, msg));
  };
  if (s.n_samples < 0) return bad(absl::StrFormat("negative sample count %d", s.n_samples));
  if (s.max_choices < 1) return bad(absl::StrFormat("max choices is %d, needs >= 1", s.max_choices));
  const auto n = static_cast<size_t>(s.n_samples);
  const auto nc = static_cast<size_t>(s.n_samples * s.max_choices);
  if (s.n_choices.size() != n)
    return bad(absl::StrFormat("n_choices has %d entries, expected %d samples", s.n_choices.size(), n));
  if (s.label.size() != n)
    return bad(absl::StrFormat("label has %d entries, expected %d samples", s.label.size(), n));
  if (s.logprob.size() != nc)
    return bad(absl::StrFormat("choice_logprob has %d entries, expected %d x %d", s.logprob.size(),
                               s.n_samples, s.max_choices));
  if (!s.bytes.empty() && s.bytes.size() != nc)
    return bad(absl::StrFormat("choice_bytes has %d entries, expected %d x %d", s.bytes.size(),
                               s.n_samples, s.max_choices));
  for (int64_t i = 0; i < s.n_samples; ++i) {
    const int32_t c = s.n_choices[i];
    if (c < 1 || c > s.max_choices)
      return bad(absl::StrFormat("sample %d has n_choices %d, must be in [1, %d]", i, c, s.max_choices));
    if (s.label[i] < 0 || s.label[i] >= c)
      return bad(absl::StrFormat("sample %d has label %d out of range [0, %d)", i, s.label[i], c));
    for (int32_t j = 0; j < c; ++j) {
      const double lp = s.LogProb(i, j);
      // -inf is a legal log-likelihood of 0 but not for every choice at once (checked below).
      if (std::isnan(lp) || lp == std::numeric_limits<double>::infinity())
        return bad(absl::StrFormat("sample %d choice %d has log-prob %g", i, j, lp));
      if (!s.bytes.empty() && s.Bytes(i, j) < 1)
        return bad(absl::StrFormat("sample %d choice %d has %d continuation bytes, must be >= 1", i,
                                   j, s.Bytes(i, j)));
    }
    bool any_finite = false;
    for (int32_t j = 0; j < c; ++j) any_finite |= std::isfinite(s.LogProb(i, j));
    if (!any_finite) return bad(absl::StrFormat("sample %d has no finite choice log-prob", i));
  }
  return absl::OkStatus();
}

absl::Status ValidatePairedChoiceScores(const ChoiceScores& base, const ChoiceScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidateChoiceScores(base));
  QSWEEP_RETURN_IF_ERROR(ValidateChoiceScores(cand));
  if (base.n_samples != cand.n_samples)
    return absl::InvalidArgumentError(absl::StrFormat("%s has %d samples but baseline %s has %d",
                                                      cand.what, cand.n_samples, base.what,
                                                      base.n_samples));
  for (int64_t i = 0; i < base.n_samples; ++i) {
    if (base.n_choices[i] != cand.n_choices[i] || base.label[i] != cand.label[i])
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s sample %d has %d choices, label %d but baseline %s has %d choices, label %d: "
          "not the same task set",
          cand.what, i, cand.n_choices[i], cand.label[i], base.what, base.n_choices[i],
          base.label[i]));
  }
  return absl::OkStatus();
}

}  // namespace qsweep::metrics
