// `qsweep inspect PATH`: what a checkpoint is, without reading its weights.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/describe.h"

namespace qsweep::cli {

void AddInspectCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Print a checkpoint's config, parameter count, dtypes, size and content id");
  auto path = std::make_shared<std::string>();
  cmd->add_option("path", *path,
                  "a checkpoint: a directory with config.json + safetensors, a .safetensors "
                  "file, a llama2.c .bin file, or synthetic:NAME[@SEED]")
      ->required();
  cmd->callback([path] {
    auto ckpt = OpenCheckpoint(*path);
    ExitOnError(ckpt.status());
    std::fputs(DescribeCheckpoint(**ckpt).c_str(), stdout);
  });
}

}  // namespace qsweep::cli
