#include "metrics/generation_compare.h"

#include <algorithm>
#include <limits>

#include "core/status_macros.h"

namespace qsweep::metrics {

GenerationPair CompareGenerations(std::span<const int32_t> base, std::span<const int32_t> cand) {
  GenerationPair p;
  const size_t common = std::min(base.size(), cand.size()), longest = std::max(base.size(), cand.size());
  size_t equal = 0;
  for (size_t i = 0; i < common; ++i) {
    if (base[i] == cand[i]) {
      ++equal;
    } else if (p.first_difference < 0) {
      p.first_difference = static_cast<int64_t>(i);
    }
  }
  if (p.first_difference < 0 && base.size() != cand.size()) p.first_difference = static_cast<int64_t>(common);
  p.token_agreement = longest == 0 ? 1.0 : static_cast<double>(equal) / static_cast<double>(longest);
  return p;
}

GenerationSummary SummarizeGenerations(std::span<const uint8_t> base_correct, std::span<const uint8_t> cand_correct,
                                       std::span<const GenerationPair> pairs) {
  QSWEEP_CHECK(base_correct.size() == cand_correct.size());
  QSWEEP_CHECK(base_correct.size() == pairs.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  GenerationSummary s;
  const size_t n = pairs.size();
  s.samples = static_cast<int64_t>(n);
  int64_t base_right = 0, cand_right = 0, identical = 0, differing = 0;
  double agreement = 0, first_difference = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool b = base_correct[i] != 0, c = cand_correct[i] != 0;
    base_right += b;
    cand_right += c;
    s.correct_to_incorrect += b && !c;
    s.incorrect_to_correct += !b && c;
    agreement += pairs[i].token_agreement;
    if (pairs[i].first_difference < 0) {
      ++identical;
    } else {
      ++differing;
      first_difference += static_cast<double>(pairs[i].first_difference);
    }
  }
  const double dn = static_cast<double>(n);
  s.base_accuracy = n ? base_right / dn : nan;
  s.cand_accuracy = n ? cand_right / dn : nan;
  s.identical = n ? identical / dn : nan;
  s.mean_token_agreement = n ? agreement / dn : nan;
  s.mean_first_difference = differing ? first_difference / static_cast<double>(differing) : nan;
  return s;
}

}  // namespace qsweep::metrics
