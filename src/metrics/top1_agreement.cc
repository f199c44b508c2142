#include "metrics/top1_agreement.h"

#include <limits>

#include "core/status_macros.h"

namespace qsweep::metrics {

absl::StatusOr<Top1Agreement> ComputeTop1Agreement(const TokenScores& base,
                                                   const TokenScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedTokenScores(base, cand));
  Top1Agreement a;
  a.n_tokens = base.n_tokens;
  for (int64_t t = 0; t < base.n_tokens; ++t) a.n_same += base.TopId(t, 0) == cand.TopId(t, 0);
  a.fraction = a.n_tokens ? static_cast<double>(a.n_same) / static_cast<double>(a.n_tokens)
                          : std::numeric_limits<double>::quiet_NaN();
  return a;
}

}  // namespace qsweep::metrics
