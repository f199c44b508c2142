#include "metrics/token_kl.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "metrics/percentile.h"

namespace qsweep::metrics {
namespace {

double LogSumExp(std::span<const float> row) {
  double m = -std::numeric_limits<double>::infinity();
  for (float v : row) m = std::max(m, double{v});
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (float v : row) s += std::exp(double{v} - m);
  return m + std::log(s);
}

// p log(p / q) with the conventions 0 log(0/q) = 0 and p log(p/0) = +inf.
double KlTerm(double p, double log_p, double log_q) {
  if (p == 0.0) return 0.0;
  return p * (log_p - log_q);
}

}  // namespace

absl::StatusOr<std::vector<double>> ExactTokenKl(std::span<const float> base_rows,
                                                 std::span<const float> cand_rows,
                                                 int64_t vocab_size) {
  if (vocab_size < 1)
    return absl::InvalidArgumentError(absl::StrFormat("token KL: vocab size %d", vocab_size));
  if (base_rows.size() != cand_rows.size() || base_rows.size() % vocab_size != 0)
    return absl::InvalidArgumentError(absl::StrFormat(
        "token KL: baseline rows have %d values, candidate rows %d; both must be T x %d",
        base_rows.size(), cand_rows.size(), vocab_size));
  const int64_t n = static_cast<int64_t>(base_rows.size()) / vocab_size;
  std::vector<double> kl(n);
  for (int64_t t = 0; t < n; ++t) {
    const auto b = base_rows.subspan(t * vocab_size, vocab_size);
    const auto q = cand_rows.subspan(t * vocab_size, vocab_size);
    const double lse_b = LogSumExp(b), lse_q = LogSumExp(q);
    if (!std::isfinite(lse_b) || !std::isfinite(lse_q))
      return absl::InvalidArgumentError(
          absl::StrFormat("token KL: row %d is not a distribution (log-sum-exp %g / %g)", t,
                          lse_b, lse_q));
    double s = 0.0;
    for (int64_t v = 0; v < vocab_size; ++v) {
      const double lp = double{b[v]} - lse_b;
      s += KlTerm(std::exp(lp), lp, double{q[v]} - lse_q);
    }
    kl[t] = std::max(0.0, s);
  }
  return kl;
}

absl::StatusOr<std::vector<double>> TopKTokenKl(const TokenScores& base, const TokenScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedTokenScores(base, cand));
  std::vector<double> kl(base.n_tokens);
  for (int64_t t = 0; t < base.n_tokens; ++t) {
    double s = 0.0, p_known = 0.0, q_known = 0.0;
    int n_known = 0;
    for (int64_t i = 0; i < base.top_k; ++i) {
      const int32_t id = base.TopId(t, i);
      // K is small (tens): a linear scan beats building a map per token.
      int64_t j = 0;
      while (j < cand.top_k && cand.TopId(t, j) != id) ++j;
      if (j == cand.top_k) continue;  // q unknown: this id's mass stays in the rest bucket
      const double lp = base.TopLogProb(t, i), lq = cand.TopLogProb(t, j);
      const double p = std::exp(lp);
      ++n_known;
      p_known += p;
      q_known += std::exp(lq);
      s += KlTerm(p, lp, lq);
    }
    const double p_rest = std::max(0.0, 1.0 - p_known);
    const double q_rest = std::max(0.0, 1.0 - q_known) + n_known * kPerEntryMassError;
    if (p_rest > 0.0) s += p_rest * (std::log(p_rest) - std::log(q_rest));
    kl[t] = std::max(0.0, s);
  }
  return kl;
}

TokenKlSummary SummarizeTokenKl(std::span<const double> per_token, bool is_bound) {
  const double qs[] = {50.0, 90.0, 99.0, 99.9, 100.0};
  const std::vector<double> p = Percentiles(per_token, qs);
  TokenKlSummary s;
  s.n_tokens = static_cast<int64_t>(per_token.size());
  s.mean = Mean(per_token);
  s.median = p[0];
  s.p90 = p[1];
  s.p99 = p[2];
  s.p999 = p[3];
  s.max = p[4];
  s.is_bound = is_bound;
  return s;
}

}  // namespace qsweep::metrics
