// `qsweep plan CONFIG [--index K]` and `qsweep submit CONFIG`.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "sweep/slurm_submit.h"
#include "sweep/sweep_config.h"

namespace qsweep::cli {
void AddSlurmCommands(CLI::App& app) {
  struct PlanArgs {
    std::string config;
    int index = -1;
    bool output_dir = false;
  };
  auto pa = std::make_shared<PlanArgs>();
  CLI::App* plan = app.add_subcommand("plan", "List the sweep's Slurm array tasks (one per scheme, baseline first)");
  plan->add_option("config", pa->config, "sweep config (YAML)")->required()->check(CLI::ExistingFile);
  plan->add_option("--index", pa->index, "print only the scheme of this array index");
  plan->add_flag("--output-dir", pa->output_dir, "print only the sweep's output folder");
  plan->callback([pa] {
    auto c = LoadSweepConfig(pa->config);
    ExitOnError(c.status());
    const auto rows = PlanSweep(*c);
    if (pa->output_dir) {
      std::printf("%s\n", c->output.c_str());
      return;
    }
    if (pa->index >= 0) {
      if (pa->index >= static_cast<int>(rows.size()))
        ExitOnError(absl::InvalidArgumentError(absl::StrFormat("%s: array index %d, the sweep has %d tasks",
                                                               pa->config, pa->index, rows.size())));
      std::printf("%s\n", rows[pa->index].scheme.c_str());
      return;
    }
    std::printf("%-6s %-22s %-9s %s\n", "index", "scheme", "state", "run file");
    for (const auto& r : rows) std::printf("%-6d %-22s %-9s %s\n", r.index, r.scheme.c_str(), r.state.c_str(), r.run_file.c_str());
    std::printf("then: qsweep metrics %s (the aggregation job, afterok)\n", pa->config.c_str());
  });

  struct SubmitArgs {
    std::string config;
    SubmitOptions options;
    bool dry_run = false;
  };
  auto sa = std::make_shared<SubmitArgs>();
  CLI::App* submit = app.add_subcommand("submit", "Submit the sweep as a Slurm array and its aggregation job");
  submit->add_option("config", sa->config, "sweep config (YAML)")->required()->check(CLI::ExistingFile);
  submit->add_option("--ranks", sa->options.ranks, "MPI ranks per array task (default: the config's tp)")
      ->check(CLI::Range(1, 65536));
  submit->add_option("--tasks", sa->options.indices, "only these array indices (resubmit failed tasks)")->delimiter(',');
  submit->add_flag("--dry-run", sa->dry_run, "print the sbatch command lines, submit nothing");
  submit->callback([sa] {
    auto c = LoadSweepConfig(sa->config);
    ExitOnError(c.status());
    SubmitOptions o = sa->options;
    o.repo = RepoPath();
    o.qsweep = SelfPath();
    // Jobs may start in another folder: give them absolute paths.
    c->path = std::filesystem::absolute(c->path).string();
    c->output = std::filesystem::absolute(c->output).string();
    if (sa->dry_run) {
      for (const auto& cmd : SubmitCommands(*c, o)) std::printf("%s\n", ShellQuoted(cmd).c_str());
      return;
    }
    auto ids = SubmitSweep(*c, o);
    ExitOnError(ids.status());
    std::printf("submitted array job %s (%zu tasks) and aggregation job %s\n", ids->first.c_str(),
                o.indices.empty() ? c->AllSchemes().size() : o.indices.size(), ids->second.c_str());
  });
}

}  // namespace qsweep::cli
