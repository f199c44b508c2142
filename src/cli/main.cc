#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"

namespace qsweep::cli {

void ExitOnError(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "qsweep: %s\n", std::string(status.message()).c_str());
  std::exit(1);
}

}  // namespace qsweep::cli

int main(int argc, char** argv) {
  CLI::App app{"qsweep: what quantization does to a language model"};
  app.require_subcommand(1);
  qsweep::cli::AddInspectCommand(app);
  qsweep::cli::AddLogprobsCommand(app);
  qsweep::cli::AddRunCommand(app);
  qsweep::cli::AddMetricsCommand(app);
  qsweep::cli::AddSlurmCommands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
