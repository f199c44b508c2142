// `qsweep report METRICS.h5 -o DIR`: a self-contained HTML dashboard of the
// trade-offs (Vega-Lite specs generated from the metrics; Vega, Vega-Lite and
// vega-embed inlined, so the page works offline) and the CSV behind every
// chart under DIR/data/.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/metrics_reader.h"

namespace qsweep {

struct DashboardOptions {
  std::string assets_dir;  // node_modules with vega, vega-lite, vega-embed (tools/report)
};

// Writes DIR/index.html, DIR/data/*.csv, DIR/specs.json; returns the page's path.
absl::StatusOr<std::string> WriteDashboard(const MetricsFileData& metrics, const std::string& dir,
                                           const DashboardOptions& options);

// One line per use (quality first, memory first, speed first), each naming
// the scheme and the numbers behind the choice.
std::vector<std::string> Recommend(const MetricsFileData& metrics);

// JSON text made safe inside a <script> element: "</" in a string (a scheme
// named "</script>...") would end the element and run what follows; "<\/"
// is the same string to JSON.
std::string JsonForScript(std::string json);

// The family a scheme's curve belongs to: baseline, int, int-asym, binary,
// ternary, nf4, fp4, fp8, int-act.
std::string SchemeFamily(const std::string& scheme);

}  // namespace qsweep
