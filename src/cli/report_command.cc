// `qsweep report METRICS.h5 -o DIR`: the HTML dashboard and its data.
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "io/metrics_reader.h"
#include "report/dashboard.h"

namespace qsweep::cli {

void AddReportCommand(CLI::App& app) {
  struct Args {
    std::string metrics, out, assets;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("report", "Write the HTML dashboard of a metrics file (works offline)");
  cmd->add_option("metrics", a->metrics, "metrics file from qsweep metrics")->required();
  cmd->add_option("-o,--output", a->out, "output folder (index.html, data/*.csv)")->required();
  cmd->add_option("--assets", a->assets, "node_modules holding vega, vega-lite, vega-embed (default: tools/report's)");
  cmd->callback([a] {
    auto m = ReadMetricsFile(a->metrics);
    ExitOnError(m.status());
    const std::string assets =
        a->assets.empty() ? (std::filesystem::path(RepoPath()) / "tools" / "report" / "node_modules").string() : a->assets;
    auto page = WriteDashboard(*m, a->out, {.assets_dir = assets});
    ExitOnError(page.status());
    std::printf("%s\n", std::filesystem::absolute(*page).c_str());
  });
}

}  // namespace qsweep::cli
