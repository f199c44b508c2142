// Flips (Dutta et al.): samples whose correctness differs between the
// baseline and a candidate, split by direction. Rates are shares of all N
// samples, so flip_rate = correct_to_incorrect_rate + incorrect_to_correct_rate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep::metrics {

struct Flips {
  int64_t n_samples = 0;
  int64_t n_correct_to_incorrect = 0;  // baseline right, candidate wrong (McNemar's b)
  int64_t n_incorrect_to_correct = 0;  // baseline wrong, candidate right (McNemar's c)
  int64_t n_flipped() const { return n_correct_to_incorrect + n_incorrect_to_correct; }
  double correct_to_incorrect_rate = 0.0;  // NaN for N = 0
  double incorrect_to_correct_rate = 0.0;
  double flip_rate = 0.0;
  std::vector<uint8_t> correct_to_incorrect;  // [N] masks
  std::vector<uint8_t> incorrect_to_correct;
  std::vector<uint8_t> flipped;
};

absl::StatusOr<Flips> CountFlips(std::span<const uint8_t> base_correct,
                                 std::span<const uint8_t> cand_correct);

}  // namespace qsweep::metrics
