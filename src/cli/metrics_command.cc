// `qsweep metrics --baseline BASE.h5 RUN.h5 ... -o metrics.h5` or
// `qsweep metrics CONFIG`: every metric from the run files alone, CPU only.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "compare/compare_runs.h"
#include "io/metrics_file.h"
#include "io/run_file.h"
#include "report/summary_table.h"
#include "sweep/sweep_config.h"

namespace qsweep::cli {
namespace {

struct MetricsArgs {
  std::string config, baseline, out, csv, json, run_dir;
  std::vector<std::string> runs;
  int bootstrap = 1000;
  uint64_t seed = 0;
};

absl::Status RunMetrics(MetricsArgs a) {
  if (!a.config.empty()) {
    auto c = LoadSweepConfig(a.config);
    if (!c.ok()) return c.status();
    if (!a.run_dir.empty()) c->output = a.run_dir;
    if (auto s = AddRecommendedEntry(*c); !s.ok()) return s.status();
    a.baseline = c->RunPath(c->baseline);
    for (const std::string& s : c->schemes) a.runs.push_back(c->RunPath(s));
    if (a.out.empty()) a.out = c->MetricsPath();
  }
  if (a.baseline.empty() || a.runs.empty() || a.out.empty())
    return absl::InvalidArgumentError("give CONFIG, or --baseline BASE.h5, candidate run files and -o OUT.h5");
  auto base = ReadRunFile(a.baseline);
  if (!base.ok()) return base.status();
  std::vector<NamedRun> cands;
  for (const std::string& p : a.runs) {
    auto r = ReadRunFile(p);
    if (!r.ok()) return r.status();
    cands.push_back({p, std::move(*r)});
  }
  metrics::ChoiceComparisonOptions options;
  options.bootstrap.replicates = a.bootstrap;
  options.bootstrap.seed = a.seed;
  auto m = CompareRuns({a.baseline, std::move(*base)}, cands, options);
  if (!m.ok()) return m.status();
  for (const std::string& w : m->warnings) std::fprintf(stderr, "qsweep: warning: %s\n", w.c_str());
  const auto rows = SummaryRows(*m);
  if (auto s = WriteMetricsFile(a.out, *m, rows); !s.ok()) return s;
  const std::string stem = (std::filesystem::path(a.out).parent_path() / std::filesystem::path(a.out).stem()).string();
  if (auto s = WriteSummaryCsv(a.csv.empty() ? stem + ".csv" : a.csv, rows); !s.ok()) return s;
  if (auto s = WriteMetricsJson(a.json.empty() ? stem + ".json" : a.json, *m); !s.ok()) return s;
  std::fputs(FormatSummaryTable(rows).c_str(), stdout);
  std::fputs(FormatTokenStatsTable(*m).c_str(), stdout);
  std::fputs(FormatGenerationTable(*m).c_str(), stdout);
  std::fprintf(stderr, "qsweep: wrote %s (+ .csv, .json)\n", a.out.c_str());
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSweepMetrics(const SweepConfig& c) {
  MetricsArgs a;
  a.baseline = c.RunPath(c.baseline);
  for (const std::string& s : c.schemes) a.runs.push_back(c.RunPath(s));
  a.out = c.MetricsPath();
  return RunMetrics(a);
}

void AddMetricsCommand(CLI::App& app) {
  auto a = std::make_shared<MetricsArgs>();
  CLI::App* cmd = app.add_subcommand("metrics", "Accuracy, flips, KL, perplexity of candidate runs against the baseline");
  cmd->add_option("runs", a->runs, "candidate run files (or one sweep config)");
  cmd->add_option("--baseline", a->baseline, "the baseline run file");
  cmd->add_option("-o,--output", a->out, "metrics file (.h5); CSV and JSON beside it");
  cmd->add_option("--csv", a->csv, "summary CSV (default: beside the output)");
  cmd->add_option("--json", a->json, "full JSON (default: beside the output)");
  cmd->add_option("--bootstrap", a->bootstrap, "bootstrap replicates for the 95% CIs (1 to 1000000)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--seed", a->seed, "bootstrap seed");
  cmd->add_option("--sweep-output", a->run_dir, "with CONFIG: the sweep's output folder (overrides the config's)");
  cmd->callback([a] {
    MetricsArgs args = *a;
    if (args.baseline.empty() && args.runs.size() == 1 &&
        (args.runs[0].ends_with(".yaml") || args.runs[0].ends_with(".yml"))) {
      args.config = args.runs[0];
      args.runs.clear();
    }
    ExitOnError(RunMetrics(args));
  });
}

}  // namespace qsweep::cli
