#include <cstdio>
#include <filesystem>
#include <string>
#include <cstdlib>

#include "cli/commands.h"

namespace qsweep::cli {

void ExitOnError(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "qsweep: %s\n", std::string(status.message()).c_str());
  std::exit(1);
}

std::string SelfPath() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "qsweep" : p.string();
}

std::string RepoPath() {
  for (auto p = std::filesystem::path(SelfPath()).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (std::filesystem::exists(p / "slurm" / "sweep-array.sbatch")) return p.string();
  return std::filesystem::current_path().string();
}

}  // namespace qsweep::cli

int main(int argc, char** argv) {
  CLI::App app{"qsweep: what quantization does to a language model"};
  app.require_subcommand(1);
  qsweep::cli::AddInspectCommand(app);
  qsweep::cli::AddExportCommand(app);
  qsweep::cli::AddLogprobsCommand(app);
  qsweep::cli::AddGenerateCommand(app);
  qsweep::cli::AddRunCommand(app);
  qsweep::cli::AddMetricsCommand(app);
  qsweep::cli::AddSlurmCommands(app);
  qsweep::cli::AddReportCommand(app);
  qsweep::cli::AddBenchCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
