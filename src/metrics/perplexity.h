// Perplexity of a run over a corpus, PPL = exp(mean nll), and the comparison
// llama.cpp's KL-divergence report prints: the PPL ratio and the mean of the
// per-token log ratio ln(p_base / p_q) = nll_q - nll_base, whose mean equals
// ln(PPL_q / PPL_base) and whose standard error says how sure that is.
#pragma once

#include <span>

#include "absl/status/statusor.h"

namespace qsweep::metrics {

struct Perplexity {
  double mean_nll = 0.0;
  double ppl = 0.0;
};

struct PerplexityComparison {
  Perplexity base;
  Perplexity candidate;
  double ratio = 0.0;                  // PPL_q / PPL_base
  double mean_log_ratio = 0.0;         // mean(nll_q - nll_base) = ln(ratio)
  double mean_log_ratio_stderr = 0.0;  // sample std (n-1) / sqrt(T); NaN for T = 1
};

absl::StatusOr<Perplexity> ComputePerplexity(std::span<const float> nll);

absl::StatusOr<PerplexityComparison> ComparePerplexity(std::span<const float> base_nll,
                                                       std::span<const float> cand_nll);

}  // namespace qsweep::metrics
