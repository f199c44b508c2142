#include "metrics/perplexity.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace qsweep::metrics {

absl::StatusOr<Perplexity> ComputePerplexity(std::span<const float> nll) {
  if (nll.empty()) return absl::InvalidArgumentError("perplexity: no tokens");
  double s = 0.0;
  for (float v : nll) s += v;  // double accumulation: corpora have millions of tokens
  const double mean = s / static_cast<double>(nll.size());
  return Perplexity{mean, std::exp(mean)};
}

absl::StatusOr<PerplexityComparison> ComparePerplexity(std::span<const float> base_nll,
                                                       std::span<const float> cand_nll) {
  if (base_nll.size() != cand_nll.size())
    return absl::InvalidArgumentError(absl::StrFormat(
        "perplexity: baseline has %d tokens, candidate %d", base_nll.size(), cand_nll.size()));
  PerplexityComparison c;
  auto b = ComputePerplexity(base_nll);
  if (!b.ok()) return b.status();
  auto q = ComputePerplexity(cand_nll);
  if (!q.ok()) return q.status();
  c.base = *b;
  c.candidate = *q;
  const double n = static_cast<double>(base_nll.size());
  double s = 0.0;
  for (size_t i = 0; i < base_nll.size(); ++i) s += double{cand_nll[i]} - double{base_nll[i]};
  c.mean_log_ratio = s / n;
  c.ratio = std::exp(c.mean_log_ratio);
  double ss = 0.0;
  for (size_t i = 0; i < base_nll.size(); ++i) {
    const double d = double{cand_nll[i]} - double{base_nll[i]} - c.mean_log_ratio;
    ss += d * d;
  }
  c.mean_log_ratio_stderr =
      base_nll.size() > 1 ? std::sqrt(ss / (n - 1) / n) : std::numeric_limits<double>::quiet_NaN();
  return c;
}

}  // namespace qsweep::metrics
