#include "metrics/token_scores.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep::metrics {

// A stored log-prob slightly above 0 is rounding (log-softmax in fp32, stored
// in fp16/fp32); anything larger is not a log-probability.
constexpr float kLogProbTolerance = 1e-3f;

absl::Status ValidateTokenScores(const TokenScores& s) {
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", s.what, msg));
  };
  if (s.n_tokens < 0) return bad(absl::StrFormat("negative token count %d", s.n_tokens));
  if (s.top_k < 1) return bad(absl::StrFormat("top-K is %d, needs >= 1", s.top_k));
  const auto t = static_cast<size_t>(s.n_tokens);
  const auto tk = static_cast<size_t>(s.n_tokens * s.top_k);
  if (s.nll.size() != t)
    return bad(absl::StrFormat("nll has %d entries, expected %d tokens", s.nll.size(), t));
  if (s.topk_id.size() != tk)
    return bad(absl::StrFormat("topk_id has %d entries, expected %d x %d", s.topk_id.size(),
                               s.n_tokens, s.top_k));
  if (s.topk_logprob.size() != tk)
    return bad(absl::StrFormat("topk_logprob has %d entries, expected %d x %d",
                               s.topk_logprob.size(), s.n_tokens, s.top_k));
  if (!s.token_id.empty() && s.token_id.size() != t)
    return bad(absl::StrFormat("token_id has %d entries, expected %d tokens", s.token_id.size(), t));
  for (int64_t i = 0; i < s.n_tokens; ++i) {
    if (!std::isfinite(s.nll[i]) || s.nll[i] < -kLogProbTolerance)
      return bad(absl::StrFormat("token %d has nll %g, must be finite and >= 0", i, s.nll[i]));
    for (int64_t k = 0; k < s.top_k; ++k) {
      const float lp = s.TopLogProb(i, k);
      if (std::isnan(lp) || lp > kLogProbTolerance)
        return bad(absl::StrFormat("token %d top-%d log-prob %g is not a log-probability", i, k, lp));
      if (k > 0 && lp > s.TopLogProb(i, k - 1))
        return bad(absl::StrFormat("token %d top-K log-probs not sorted descending at %d", i, k));
      if (s.TopId(i, k) < 0) return bad(absl::StrFormat("token %d top-%d id %d < 0", i, k, s.TopId(i, k)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePairedTokenScores(const TokenScores& base, const TokenScores& cand) {
  QSWEEP_RETURN_IF_ERROR(ValidateTokenScores(base));
  QSWEEP_RETURN_IF_ERROR(ValidateTokenScores(cand));
  if (base.n_tokens != cand.n_tokens)
    return absl::InvalidArgumentError(absl::StrFormat("%s has %d tokens but baseline %s has %d",
                                                      cand.what, cand.n_tokens, base.what,
                                                      base.n_tokens));
  if (!base.token_id.empty() && !cand.token_id.empty())
    for (int64_t i = 0; i < base.n_tokens; ++i)
      if (base.token_id[i] != cand.token_id[i])
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s token %d is id %d but baseline %s has id %d: not the same token stream", cand.what,
            i, cand.token_id[i], base.what, base.token_id[i]));
  return absl::OkStatus();
}

}  // namespace qsweep::metrics
