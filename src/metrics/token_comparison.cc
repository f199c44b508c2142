#include "metrics/token_comparison.h"

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep::metrics {

const char* TokenKlSourceName(TokenKlSource s) {
  switch (s) {
    case TokenKlSource::kExact: return "exact";
    case TokenKlSource::kFloat16Rows: return "float16 rows";
    case TokenKlSource::kTopKBound: return "top-K lower bound";
  }
  return "?";
}

absl::StatusOr<TokenComparison> CompareTokenRuns(const TokenScores& base, const TokenScores& cand,
                                                 std::optional<FullLogProbRows> rows,
                                                 const ExactTokenStatsView* exact) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedTokenScores(base, cand));
  TokenComparison c;
  QSWEEP_ASSIGN_OR_RETURN(c.perplexity, ComparePerplexity(base.nll, cand.nll));
  if (exact) {
    if (exact->n_tokens != base.n_tokens)
      return absl::InvalidArgumentError(absl::StrFormat("%s: exact statistics of %d tokens, the runs scored %d",
                                                        exact->what, exact->n_tokens, base.n_tokens));
    QSWEEP_ASSIGN_OR_RETURN(c.exact, SummarizeExactTokenStats(*exact));
    c.kl_source = TokenKlSource::kExact;
    c.kl_per_token.assign(exact->kl_base_cand.begin(), exact->kl_base_cand.end());
    c.kl_reverse_per_token.assign(exact->kl_cand_base.begin(), exact->kl_cand_base.end());
  } else if (rows.has_value()) {
    c.kl_source = TokenKlSource::kFloat16Rows;
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
  c.kl = SummarizeTokenKl(c.kl_per_token, /*is_bound=*/c.kl_source == TokenKlSource::kTopKBound);
  QSWEEP_ASSIGN_OR_RETURN(c.top1, ComputeTop1Agreement(base, cand));
  QSWEEP_ASSIGN_OR_RETURN(c.dp, ComputeNextTokenDp(base.nll, cand.nll));
  QSWEEP_ASSIGN_OR_RETURN(c.base_confidence, ComputeConfidenceHistogram(base));
  QSWEEP_ASSIGN_OR_RETURN(c.candidate_confidence, ComputeConfidenceHistogram(cand));
  return c;
}

}  // namespace qsweep::metrics
