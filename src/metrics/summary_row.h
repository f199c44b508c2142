// One row of the sweep's summary (report/summary_table.h computes it from
// SweepMetrics; io/metrics_file.h stores it): the numbers people decide a
// scheme by. Pure data.
#pragma once
#include <string>

namespace qsweep {

struct SummaryRow {
  std::string scheme;
  bool noise_floor = false;  // the baseline's scheme scored again
  double bits_per_weight = 0;
  double size_gb = 0;
  double accuracy = 0, delta_accuracy = 0, delta_lo = 0, delta_hi = 0;
  double flips_c2i = 0, flips_i2c = 0;    // fractions of samples
  double flip_lo = 0, flip_hi = 0;        // CI of the flip rate
  double mcnemar_p = 1;
  double answer_kl_mean = 0, answer_kl_p95 = 0;
  double ppl = 0, ppl_ratio = 1;          // first corpus
  double token_kl_mean = 0;
  bool token_kl_is_bound = false;
  double top1_same = 1;
  // Measured in the run (0: not measured, or not counted by its backend).
  double tokens_per_s = 0, samples_per_s = 0;
  double weight_gib = 0, device_gib = 0;  // device memory of one rank: the weights, all in use
  std::string device;                      // what the speed was measured on (empty: not measured)
};

}  // namespace qsweep
