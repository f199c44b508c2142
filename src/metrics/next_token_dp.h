// Δp of the actual next token: dp_t = p_q(x_t) - p_base(x_t) = exp(-nll_q) -
// exp(-nll_base), in probability units (llama.cpp's "Δp" statistics).
// Reported as RMS, mean and percentiles p1, p5, p50, p95, p99 (numpy linear).
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep::metrics {

struct NextTokenDp {
  std::vector<double> per_token;  // [T]
  double rms = 0.0;
  double mean = 0.0;
  double p1 = 0.0, p5 = 0.0, p50 = 0.0, p95 = 0.0, p99 = 0.0;
};

absl::StatusOr<NextTokenDp> ComputeNextTokenDp(std::span<const float> base_nll,
                                               std::span<const float> cand_nll);

}  // namespace qsweep::metrics
