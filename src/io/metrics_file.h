// The metrics file (`qsweep metrics -o metrics.h5`): the summary table and,
// per candidate, the per-sample and per-token arrays behind it (flip masks,
// answer KL, margins, token KL, Δp), so plots never need the run files again.
// Schema in docs/run_file.md. Written to .tmp, `complete` set last, renamed.
#pragma once
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "metrics/summary_row.h"
#include "metrics/sweep_metrics.h"

namespace qsweep {

inline constexpr int64_t kMetricsSchemaVersion = 1;

absl::Status WriteMetricsFile(const std::string& path, const SweepMetrics& m, const std::vector<SummaryRow>& rows);

}  // namespace qsweep
