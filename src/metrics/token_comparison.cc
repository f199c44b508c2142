#include "metrics/token_comparison.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep::metrics {

absl::StatusOr<TokenComparison> CompareTokenRuns(const TokenScores& base, const TokenScores& cand,
                                                 std::optional<FullLogProbRows> rows) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedTokenScores(base, cand));
  TokenComparison c;
  QSWEEP_ASSIGN_OR_RETURN(c.perplexity, ComparePerplexity(base.nll, cand.nll));
  if (rows.has_value()) {
    if (rows->vocab_size < 1 ||
        rows->base.size() != static_cast<size_t>(base.n_tokens * rows->vocab_size))
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: full log-prob rows have %d values, expected %d tokens x vocab %d", base.what,
          rows->base.size(), base.n_tokens, rows->vocab_size));
    QSWEEP_ASSIGN_OR_RETURN(c.kl_per_token,
                            ExactTokenKl(rows->base, rows->candidate, rows->vocab_size));
  } else {
    QSWEEP_ASSIGN_OR_RETURN(c.kl_per_token, TopKTokenKl(base, cand));
  }
  c.kl = SummarizeTokenKl(c.kl_per_token, /*is_bound=*/!rows.has_value());
  QSWEEP_ASSIGN_OR_RETURN(c.top1, ComputeTop1Agreement(base, cand));
  QSWEEP_ASSIGN_OR_RETURN(c.dp, ComputeNextTokenDp(base.nll, cand.nll));
  QSWEEP_ASSIGN_OR_RETURN(c.base_confidence, ComputeConfidenceHistogram(base));
  QSWEEP_ASSIGN_OR_RETURN(c.candidate_confidence, ComputeConfidenceHistogram(cand));
  return c;
}

}  // namespace qsweep::metrics
