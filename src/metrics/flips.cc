#include "metrics/flips.h"

#include <limits>

#include "absl/strings/str_format.h"

namespace qsweep::metrics {

absl::StatusOr<Flips> CountFlips(std::span<const uint8_t> base_correct,
                                 std::span<const uint8_t> cand_correct) {
  if (base_correct.size() != cand_correct.size())
    return absl::InvalidArgumentError(absl::StrFormat(
        "flips: baseline has %d samples, candidate %d", base_correct.size(), cand_correct.size()));
  const size_t n = base_correct.size();
  Flips f;
  f.n_samples = static_cast<int64_t>(n);
  f.correct_to_incorrect.resize(n);
  f.incorrect_to_correct.resize(n);
  f.flipped.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const bool b = base_correct[i] != 0, q = cand_correct[i] != 0;
    f.correct_to_incorrect[i] = b && !q;
    f.incorrect_to_correct[i] = !b && q;
    f.flipped[i] = b != q;
    f.n_correct_to_incorrect += f.correct_to_incorrect[i];
    f.n_incorrect_to_correct += f.incorrect_to_correct[i];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double dn = static_cast<double>(n);
  f.correct_to_incorrect_rate = n ? f.n_correct_to_incorrect / dn : nan;
  f.incorrect_to_correct_rate = n ? f.n_incorrect_to_correct / dn : nan;
  f.flip_rate = n ? f.n_flipped() / dn : nan;
  return f;
}

}  // namespace qsweep::metrics
