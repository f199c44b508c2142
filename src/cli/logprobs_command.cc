// `qsweep logprobs MODEL --tokens FILE -o OUT.h5`: the full log-softmax of
// every position, for debugging a checkpoint against other implementations.
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/progress.h"
#include "eval/token_lists.h"
#include "io/logprobs_file.h"
#include "model/decoder.h"
#include "quant/scheme.h"
#include "model/row_scores.h"

namespace qsweep::cli {
namespace {

struct LogprobsArgs {
  std::string model, tokens, out, scheme = "fp32", backend = "cpu";
  int64_t batch_tokens = 2048;
};

absl::Status RunLogprobs(const LogprobsArgs& a) {
  auto ckpt = OpenCheckpoint(a.model);
  if (!ckpt.ok()) return ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  auto seqs = ReadTokenLists(a.tokens, vocab);
  if (!seqs.ok()) return seqs.status();
  int64_t longest = 0, total = 0;
  for (const auto& s : *seqs) {
    longest = std::max<int64_t>(longest, s.size());
    total += s.size();
  }
  auto scheme = ResolveScheme(a.scheme);
  if (!scheme.ok()) return scheme.status();
  auto backend = MakeBackend(a.backend);
  if (!backend.ok()) return backend.status();
  auto decoder = Decoder::Load(**ckpt, backend->get(),
                               {.scheme = *scheme,
                                .max_batch_tokens = std::max(longest, a.batch_tokens),
                                .max_head_rows = 256});
  if (!decoder.ok()) return decoder.status();
  auto writer = LogprobsFileWriter::Create(a.out, total, vocab, a.model, a.scheme);
  if (!writer.ok()) return writer.status();
  std::vector<int32_t> all_tokens;
  std::vector<int64_t> offsets = {0};
  Progress progress("logprobs", total, "tokens", true);
  size_t next = 0;
  while (next < seqs->size()) {
    TokenBatch batch;
    batch.align = (*backend)->SequenceAlignment();  // batch-invariant rows on every backend
    std::vector<int64_t> rows;
    while (next < seqs->size()) {
      const int64_t length = static_cast<int64_t>((*seqs)[next].size());
      if (batch.rows() > 0 && batch.RowsAfter({&length, 1}) > (*decoder)->options().max_batch_tokens) break;
      const int64_t begin = batch.AddSequence((*seqs)[next]);
      for (int64_t r = begin; r < begin + length; ++r) rows.push_back(r);
      all_tokens.insert(all_tokens.end(), (*seqs)[next].begin(), (*seqs)[next].end());
      offsets.push_back(static_cast<int64_t>(all_tokens.size()));
      ++next;
    }
    std::vector<int32_t> targets(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) targets[i] = batch.tokens[rows[i]];
    std::vector<LogitStats> chunks;
    if (auto s = (*decoder)->Forward(batch, rows, targets, 0, true, &chunks); !s.ok()) return s;
    const RowScores scores = CombineLogitStats(chunks, 0, true);
    const int64_t scored = static_cast<int64_t>(rows.size());
    const int64_t first = static_cast<int64_t>(all_tokens.size()) - scored;
    if (auto s = writer->WriteRows(first, scored, scores.logprobs); !s.ok()) return s;
    progress.Advance(scored);
  }
  progress.Finish();
  return writer->Close(all_tokens, offsets);
}

}  // namespace

void AddLogprobsCommand(CLI::App& app) {
  auto args = std::make_shared<LogprobsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "logprobs", "Write the full log-softmax of every position of token sequences (HDF5)");
  cmd->add_option("model", args->model, "checkpoint (path or synthetic:NAME)")->required();
  cmd->add_option("--tokens", args->tokens, "text file: one sequence a line, space-separated ids")
      ->required();
  cmd->add_option("-o,--output", args->out, "output .h5: /logprobs [tokens, vocab], /offsets")
      ->required();
  cmd->add_option("--scheme", args->scheme, "weights as fp32 (default), bf16, fp16 or a quantization scheme");
  cmd->add_option("--backend", args->backend, "cpu (default, fp32 reference) or cuda");
  cmd->add_option("--batch-tokens", args->batch_tokens, "tokens per forward pass");
  cmd->callback([args] { ExitOnError(RunLogprobs(*args)); });
}

}  // namespace qsweep::cli
