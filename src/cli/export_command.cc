// `qsweep export MODEL -o DIR [--shard-gib G]`: a checkpoint (a synthetic
// model above all) written as a Hugging Face safetensors folder, sharded as
// transformers shards, that every reader and rank then reads by slices.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/safetensors_writer.h"

namespace qsweep::cli {

void AddExportCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("export", "Write a checkpoint (e.g. synthetic:llama3-70b) as a sharded "
                                               "Hugging Face safetensors folder");
  auto model = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  auto shard_gib = std::make_shared<double>(5.0);
  cmd->add_option("model", *model, "a checkpoint: synthetic:NAME[@SEED], a safetensors folder or file, a .gguf "
                                   "or llama2.c file")
      ->required();
  cmd->add_option("-o,--output", *dir, "the folder to write (new, or empty)")->required();
  cmd->add_option("--shard-gib", *shard_gib, "the most GiB per safetensors file")
      ->check(CLI::Range(1.0 / 1024, 1024.0));
  cmd->callback([model, dir, shard_gib] {
    auto ckpt = OpenCheckpoint(*model);
    ExitOnError(ckpt.status());
    ExitOnError(WriteSafetensorsCheckpoint(**ckpt, *dir, static_cast<int64_t>(*shard_gib * (1 << 30)), true));
    std::fprintf(stderr, "qsweep: wrote %s (%.2f GiB)\n", dir->c_str(), (*ckpt)->TotalBytes() / double(1 << 30));
  });
}

}  // namespace qsweep::cli
