// The report's reading sections, as HTML: the decision summary, the summary
// table in readable units, the per-task tables (worst tasks first) and the
// mixed-precision recommendation measured beside the uniform schemes.
#pragma once
#include <string>

#include "io/metrics_reader.h"

namespace qsweep {

std::string HtmlEscape(const std::string& text);

// The one-page decision summary (report/decision.h) and the recommendations
// by use (dashboard.h Recommend).
std::string DecisionSection(const MetricsFileData& m);
// One row per scheme, baseline marked, with a legend of the columns.
std::string SummarySection(const MetricsFileData& m);
// A table per task, and each scheme's worst tasks.
std::string TaskSection(const MetricsFileData& m);
// For each run named mixed-<budget>bpw (the sweep config's recommend key):
// the rule, the layers kept, and its measured flips beside the smallest
// uniform scheme of at least its size.
std::string MixedPrecisionSection(const MetricsFileData& m);

}  // namespace qsweep
