// `qsweep generate MODEL --tokens FILE`: greedy continuations of token
// sequences with the KV cache, one line of generated ids per prompt (what
// tools/bench/hf_generate.py sets against HF transformers' generate).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "core/status_macros.h"
#include "core/output_file.h"
#include "core/progress.h"
#include "eval/generation.h"
#include "eval/token_lists.h"
#include "model/decoder.h"
#include "quant/scheme.h"
#include "sweep/model_tokenizer.h"

namespace qsweep::cli {
namespace {

struct GenerateArgs {
  std::string model, tokens, out, scheme = "bf16", backend = "cpu", tokenizer;
  int32_t max_tokens = 32;
  int64_t sequences = 32;
  std::vector<int32_t> eos;
  bool eos_given = false;
};

absl::Status RunGenerate(const GenerateArgs& a) {
  auto ckpt = OpenCheckpoint(a.model);
  if (!ckpt.ok()) return ckpt.status();
  const ModelConfig& c = (*ckpt)->config();
  auto prompts = ReadTokenLists(a.tokens, c.vocab_size);
  if (!prompts.ok()) return prompts.status();
  // The model's tokenizer gives the EOS id unless --eos names them; a model
  // without one (test checkpoints of random weights) needs none.
  std::unique_ptr<Tokenizer> tokenizer;
  if (auto t = LoadModelTokenizer(a.tokenizer.empty() ? a.model : a.tokenizer); t.ok()) {
    tokenizer = std::move(*t);
  } else if (!a.tokenizer.empty()) {
    return t.status();
  }
  std::vector<int32_t> eos = a.eos;
  if (!a.eos_given && tokenizer && tokenizer->eos_id() >= 0) eos = {tokenizer->eos_id()};
  for (int32_t e : eos)
    if (e < 0 || e >= c.vocab_size)
      return absl::InvalidArgumentError(absl::StrFormat("--eos %d outside the vocabulary [0, %d)", e, c.vocab_size));
  int64_t longest = 0;
  for (const auto& p : *prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  if (longest + a.max_tokens > c.max_position_embeddings && c.max_position_embeddings > 0)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: a prompt of %d tokens and %d new ones exceed the model's context of %d", a.tokens, longest, a.max_tokens,
        c.max_position_embeddings));
  auto scheme = ResolveScheme(a.scheme);
  if (!scheme.ok()) return scheme.status();
  auto backend = MakeBackend(a.backend);
  if (!backend.ok()) return backend.status();
  const int64_t sequences = std::min<int64_t>(a.sequences, static_cast<int64_t>(prompts->size()));
  auto decoder = Decoder::Load(**ckpt, backend->get(),
                               {.scheme = *scheme,
                                .max_batch_tokens = std::max<int64_t>(4096, 2 * longest),
                                .max_head_rows = std::max<int64_t>(64, sequences),
                                .cache_rows = sequences * (longest + a.max_tokens)});
  if (!decoder.ok()) return decoder.status();
  std::vector<GenerationRequest> requests;
  for (const auto& p : *prompts) requests.push_back({.prompt = p, .max_tokens = a.max_tokens, .stop = {}});
  LocalScorer scorer(decoder->get());
  Progress progress("generate", static_cast<int64_t>(requests.size()) * a.max_tokens, "tokens", true);
  int64_t shown = 0;
  GenerationTiming timing;
  auto out = GenerateGreedy(scorer, requests,
                            {.tokenizer = tokenizer.get(),
                             .eos_ids = eos,
                             .max_sequences = sequences,
                             .progress = [&](int64_t n) { progress.Advance(n - shown); shown = n; }},
                            &timing);
  if (!out.ok()) return out.status();
  progress.Finish();
  std::string text;
  for (const GenerationResult& r : *out) text += absl::StrJoin(r.tokens, " ") + "\n";
  if (a.out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    QSWEEP_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Begin(a.out, {a.tokens, a.model}));
    std::ofstream(file.tmp(), std::ios::binary) << text;
    QSWEEP_RETURN_IF_ERROR(file.Commit());
  }
  std::fprintf(stderr, "qsweep generate: %d prompts, %d tokens: prefill %.1f ms, %d decode steps in %.1f ms\n",
               static_cast<int>(out->size()), static_cast<int>(timing.generated_tokens), timing.prefill_ms,
               static_cast<int>(timing.decode_steps), timing.decode_ms);
  return absl::OkStatus();
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Greedy continuations of token sequences (KV cache), ids per line");
  cmd->add_option("model", args->model, "checkpoint (path)")->required();
  cmd->add_option("--tokens", args->tokens, "text file: one prompt a line, space-separated ids")->required();
  cmd->add_option("-o,--output", args->out, "where the generated ids go (default: stdout)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer (default: the model's)");
  cmd->add_option("--scheme", args->scheme, "weights as bf16 (default), fp32 or a quantization scheme");
  cmd->add_option("--backend", args->backend, "cpu (default) or cuda");
  cmd->add_option("--eos", args->eos, "ids that end a sequence (default: the tokenizer's EOS; none given: none)")
      ->expected(0, -1)
      ->each([args](const std::string&) { args->eos_given = true; })
      ->trigger_on_parse();
  cmd->add_option("--max-tokens", args->max_tokens, "new tokens at most per prompt (default 32)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--sequences", args->sequences, "prompts decoded together (default 32, at most 64)")
      ->check(CLI::Range(int64_t{1}, kMaxDecodeRows));
  cmd->callback([args] { ExitOnError(RunGenerate(*args)); });
}

}  // namespace qsweep::cli
