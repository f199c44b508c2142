// The sweep's summary: one row per scheme (baseline first) with the numbers
// people decide by, as a printed table, CSV and JSON.
#pragma once
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "metrics/summary_row.h"
#include "metrics/sweep_metrics.h"

namespace qsweep {

std::vector<SummaryRow> SummaryRows(const SweepMetrics& m);
std::string FormatSummaryTable(const std::vector<SummaryRow>& rows);
absl::Status WriteSummaryCsv(const std::string& path, const std::vector<SummaryRow>& rows);
// Everything: the summary and every task's and corpus' metrics.
absl::Status WriteMetricsJson(const std::string& path, const SweepMetrics& m);
// Per corpus with exact token statistics, llama.cpp's headline numbers per
// candidate (KL both ways, PPL ratio, same top-1, RMS Δp); "" without any.
std::string FormatTokenStatsTable(const SweepMetrics& m);
// Per generative task, each candidate's continuations against the
// baseline's: accuracy, flips, identical texts, token agreement, the mean
// first differing token, and decode speed as the run timed it; "" without any.
std::string FormatGenerationTable(const SweepMetrics& m);

}  // namespace qsweep
