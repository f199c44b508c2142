// The sweep's summary: one row per scheme (baseline first) with the numbers
// people decide by, as a printed table, CSV and JSON.
#pragma once
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eval/compare_runs.h"

namespace qsweep {

struct SummaryRow {
  std::string scheme;
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
};

std::vector<SummaryRow> SummaryRows(const SweepMetrics& m);
std::string FormatSummaryTable(const std::vector<SummaryRow>& rows);
absl::Status WriteSummaryCsv(const std::string& path, const std::vector<SummaryRow>& rows);
// Everything: the summary and every task's and corpus' metrics.
absl::Status WriteMetricsJson(const std::string& path, const SweepMetrics& m);

}  // namespace qsweep
