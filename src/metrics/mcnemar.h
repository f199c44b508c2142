// McNemar's exact test on the flips: under H0 (quantization changes no
// answer's odds of being right) each discordant pair is correct->incorrect or
// incorrect->correct with probability 1/2. Two-sided exact binomial p-value:
//   p = min(1, 2 * BinomCDF(min(b, c); b + c, 1/2)),
// computed in log space so b + c up to millions neither under- nor overflows.
#pragma once

#include <cstdint>

namespace qsweep::metrics {

struct McNemar {
  int64_t b = 0;  // correct -> incorrect
  int64_t c = 0;  // incorrect -> correct
  double p_value = 1.0;
};

// b, c >= 0 (programmer error otherwise). b = c = 0 gives p = 1.
McNemar McNemarExact(int64_t b, int64_t c);

// log P(X <= k) for X ~ Binomial(n, 1/2), 0 <= k <= n.
double LogBinomialHalfCdf(int64_t k, int64_t n);

}  // namespace qsweep::metrics
