// A baseline run's final hidden states, per scored token of each corpus:
// what a candidate's exact token statistics recompute the baseline's logits
// from (io/baseline_run.h reads them from the baseline's run file).
#pragma once
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

class BaselineHidden {
 public:
  virtual ~BaselineHidden() = default;
  virtual int64_t hidden_size() const = 0;
  // Scored tokens [first, first + count) of corpus `corpus` (the request
  // set's order), [count, hidden_size()].
  virtual absl::StatusOr<std::vector<float>> Rows(int64_t corpus, int64_t first, int64_t count) = 0;
  // Whether they are bfloat16, and then the same rows as their bits.
  virtual bool bf16() const { return false; }
  virtual absl::StatusOr<std::vector<uint16_t>> RowsBf16(int64_t corpus, int64_t first, int64_t count) {
    return absl::UnimplementedError("the baseline's hidden states are not bfloat16");
  }
};

}  // namespace qsweep
