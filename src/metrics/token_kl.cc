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

namespace {

absl::Status ValidateLogSumExp(const TokenScores& s) {
  if (s.logsumexp.empty()) return absl::OkStatus();
  if (s.logsumexp.size() != static_cast<size_t>(s.n_tokens))
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: logsumexp has %d entries, expected %d tokens", s.what, s.logsumexp.size(), s.n_tokens));
  for (int64_t t = 0; t < s.n_tokens; ++t)
    if (!std::isfinite(s.logsumexp[t]))
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: token %d has logsumexp %g, must be finite", s.what, t, s.logsumexp[t]));
  return absl::OkStatus();
}

// L of the error model eps_i = kLogProbRelError * (|lp_i| + L) for token t of s.
double LseBound(const TokenScores& s, int64_t t) {
  return s.logsumexp.empty() ? kLseBoundWithoutLogsumexp
                             : std::abs(double{s.logsumexp[t]}) + kLseMargin;
}

}  // namespace

absl::StatusOr<std::vector<double>> TopKTokenKl(const TokenScores& base, const TokenScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidatePairedTokenScores(base, cand));
  QSWEEP_RETURN_IF_ERROR(ValidateLogSumExp(base));
  QSWEEP_RETURN_IF_ERROR(ValidateLogSumExp(cand));
  std::vector<double> kl(base.n_tokens);
  for (int64_t t = 0; t < base.n_tokens; ++t) {
    const double lb = LseBound(base, t), lc = LseBound(cand, t);
    // s: the sum of the minimized terms; magnitude: the sum of their sizes, for fp64's rounding.
    double s = 0.0, magnitude = 0.0;
    // Sums over A of exp(lp -+ eps) and exp(lq - eps): bounds of the true P(A), Q(A).
    double p_lo = 0.0, p_hi = 0.0, q_lo = 0.0;
    int n_known = 0;
    for (int64_t i = 0; i < base.top_k; ++i) {
      const int32_t id = base.TopId(t, i);
      // K is small (tens): a linear scan beats building a map per token.
      int64_t j = 0;
      while (j < cand.top_k && cand.TopId(t, j) != id) ++j;
      if (j == cand.top_k) continue;  // q unknown: this id's mass stays in the rest bucket
      const double lp = base.TopLogProb(t, i), lq = cand.TopLogProb(t, j);
      // A log-prob of -inf (a masked logit) has no error box: leaving the id
      // in the rest bucket keeps the bound (p = 0 adds nothing; q = 0 is not used).
      if (!std::isfinite(lp) || !std::isfinite(lq)) continue;
      const double ep = kLogProbRelError * (std::abs(lp) + lb);
      const double eq = kLogProbRelError * (std::abs(lq) + lc);
      // min of e^x (x - y) over x in [lp - ep, lp + ep], y in [lq - eq, lq + eq]:
      // it falls in y, so y = c; in x it falls until x = c - 1, then rises.
      const double c = lq + eq;
      const double x = std::clamp(c - 1.0, lp - ep, lp + ep);
      const double term = std::exp(x) * (x - c);
      s += term;
      magnitude += std::abs(term);
      ++n_known;
      p_lo += std::exp(lp - ep);
      p_hi += std::exp(lp + ep);
      q_lo += std::exp(lq - eq);
    }
    // The rest bucket: P(R) in [rest_p_lo, rest_p_hi], Q(R) <= rest_q_hi, each
    // widened by the rounding of the fp64 sums (n_known + 1 additions, each <= 2^-53).
    const double rounding = (n_known + 2) * 0x1p-52;
    const double rest_p_hi = std::clamp(1.0 - p_lo + rounding, 0.0, 1.0);
    const double rest_p_lo = std::clamp(1.0 - p_hi - rounding, 0.0, rest_p_hi);
    const double rest_q_hi = std::min(1.0, std::max(0.0, 1.0 - q_lo) + rounding);  // > 0
    if (rest_p_hi > 0.0) {
      // P log(P / Q) at Q = rest_q_hi is convex in P, least at P = Q / e.
      const double pr = std::clamp(rest_q_hi / std::exp(1.0), rest_p_lo, rest_p_hi);
      const double term = pr * (std::log(pr) - std::log(rest_q_hi));
      s += term;
      magnitude += std::abs(term);
    }
    // The fp64 rounding of the terms and their sum: far below 2^-48 of their sizes.
    s -= 0x1p-48 * (magnitude + 1.0);
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
