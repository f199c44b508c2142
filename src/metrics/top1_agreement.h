// "Same top p": the share of tokens where the candidate's most likely next
// token is the baseline's (topk_id[t, 0] of both runs; ties inside a run were
// broken by whoever wrote the top-K, consistently for both runs).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "metrics/token_scores.h"

namespace qsweep::metrics {

struct Top1Agreement {
  int64_t n_tokens = 0;
  int64_t n_same = 0;
  double fraction = 0.0;  // n_same / n_tokens; NaN for no tokens
};

absl::StatusOr<Top1Agreement> ComputeTop1Agreement(const TokenScores& base, const TokenScores& cand);

}  // namespace qsweep::metrics
