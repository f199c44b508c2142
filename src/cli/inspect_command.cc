// `qsweep inspect PATH [--scheme S]`: what a checkpoint is (without reading
// its weights) and its honest size under a scheme; or what a run file holds.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "io/run_file.h"
#include "model/checkpoint.h"
#include "model/describe.h"
#include "model/size_report.h"
#include "quant/scheme.h"

namespace qsweep::cli {

void AddInspectCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Print a checkpoint's config, parameters, dtypes and size (under a scheme), or a run file's contents");
  auto path = std::make_shared<std::string>();
  auto scheme = std::make_shared<std::string>();
  cmd->add_option("path", *path,
                  "a checkpoint: a directory with config.json + safetensors, a .safetensors "
                  "file, a llama2.c .bin file, or synthetic:NAME[@SEED]; or a run file (.h5)")
      ->required();
  cmd->add_option("--scheme", *scheme, "also print bits per weight and size under this scheme");
  cmd->callback([path, scheme] {
    if (path->ends_with(".h5")) {
      auto run = ReadRunFile(*path);
      ExitOnError(run.status());
      std::fputs(DescribeRunFile(*run, *path).c_str(), stdout);
      return;
    }
    auto ckpt = OpenCheckpoint(*path);
    ExitOnError(ckpt.status());
    std::fputs(DescribeCheckpoint(**ckpt).c_str(), stdout);
    if (!scheme->empty()) {
      auto spec = ParseScheme(*scheme);
      ExitOnError(spec.status());
      std::fputs(("\n" + FormatSizeReport(ComputeSizes(*spec, (*ckpt)->tensors()))).c_str(), stdout);
    }
  });
}

}  // namespace qsweep::cli
