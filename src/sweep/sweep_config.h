// A sweep: one model, a baseline and a list of schemes, over task sets and
// perplexity corpora, with a parallel layout and an output folder. Read from
// YAML (configs/*.yaml); relative paths are relative to the config's folder.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/run_layout.h"
#include "eval/calibration_data.h"

namespace qsweep {

struct TaskSource {
  std::string name;
  // Multiple choice: jsonl, arc, hellaswag, mmlu, piqa, boolq, winogrande;
  // generative (greedy continuations scored by their answers): gen-jsonl, gsm8k.
  std::string format = "jsonl";
  std::string path;
  int fewshot = 0;               // mmlu: k shots from the dev split
  int64_t limit = 0;             // first N samples only (0: all)
  int32_t max_tokens = 32;       // generative: new tokens of a sample that names none
  bool generative() const { return format == "gen-jsonl" || format == "gsm8k"; }
};

struct CorpusSource {
  std::string name;
  std::string path;
  int64_t window = 512;
  int64_t stride = 256;
};

struct SweepConfig {
  std::string path;              // the YAML file it came from
  std::string yaml;              // its text, stored in every run file
  std::string name;
  std::string model;             // checkpoint path or synthetic:NAME
  std::string tokenizer;         // default: the model folder
  int tp = 1;
  BackendKind backend = BackendKind::kCpu;  // cuda needs a build with QSWEEP_CUDA
  // How row-parallel layers are summed (core/run_layout.h).
  Reduction reduction = Reduction::kTpInvariant;
  // Quantize every projection on the host as it is read, even where the
  // backend quantizes on its device (`qsweep run --quantize-on host`, to
  // compare the two; both give the same bits, so no run file records it).
  bool host_quantize = false;
  std::string baseline = "bf16";
  std::vector<std::string> schemes;  // the candidates (baseline excluded), by name
  // Named entries with overrides (a partially quantized model), e.g.
  //   schemes: [w4a16-g128, {name: attn-w4, scheme: bf16,
  //                          overrides: [{projections: [q, k, v, o], format: w4a16-g128}]}]
  // name → the spec as YAML (quant/scheme.h ResolveScheme); plain names are not in it.
  std::map<std::string, std::string> scheme_specs;
  // A named entry may also score at its own batch size or reduction: the
  // baseline's scheme so run is the sweep's numerical noise floor, e.g.
  //   {name: bf16-fast, scheme: bf16, reduction: fast}
  struct EntryScoring {
    std::optional<int64_t> batch_tokens;
    std::optional<Reduction> reduction;
  };
  std::map<std::string, EntryScoring> entry_scoring;
  // Entries that are quantized checkpoints made elsewhere (GGUF, GPTQ/AWQ),
  // scored against the same baseline: name → the file (resolved), e.g.
  //   {name: q8-0, checkpoint: model-Q8_0.gguf}
  // Without a `scheme`, projections stored in one of qsweep's packed formats
  // (GGUF's Q4_0, Q5_0, Q8_0) run in it and the rest are held as bf16; with
  // one, every weight is dequantized and held in it.
  std::map<std::string, std::string> entry_checkpoint;
  std::set<std::string> entry_stored_formats;  // checkpoint entries without a `scheme`
  std::vector<TaskSource> tasks;
  std::vector<CorpusSource> corpora;
  std::string output;            // folder of requests.h5, runs/, metrics.h5, report/
  bool add_bos = true;
  int topk = 32;
  bool full_logprobs = false;
  // Exact token statistics of the corpora (metrics' token KL both ways):
  // the baseline keeps its final hidden states, each candidate recomputes
  // its logits from them and compares on the device.
  bool exact_token_stats = true;
  int64_t batch_tokens = 2048;  // 0 ("auto"): from the device's free memory
  int64_t samples_per_unit = 64;
  int64_t windows_per_unit = 4;
  std::vector<std::string> slurm_args;  // extra sbatch arguments, passed one by one
  // Calibration data for the calibrated schemes (-gptq), e.g.
  //   calibration: {path: corpus.txt, sequences: 128, length: 2048, seed: 0}
  // path: text, or a task file (*.jsonl); tokenized once per sweep.
  std::optional<CalibrationSource> calibration;
  // A mixed-precision configuration to choose and run after the sweep, from
  // its layer sensitivity (report/decision.h PlanMixedPrecision), e.g.
  //   recommend: {budget_bpw: 4.5, format: w2a16-g64, keep: w4a16-g128}
  // `qsweep run` writes the chosen entry to RecommendedPath() and runs it;
  // AddRecommendedEntry makes it one of the schemes from then on.
  struct Recommendation {
    double budget_bpw = 0;
    std::string format, keep;
  };
  std::optional<Recommendation> recommend;

  // Baseline first, then the candidates: one run (and one array task) each.
  std::vector<std::string> AllSchemes() const;
  // What the model is quantized with for a run of that name: its spec's
  // YAML for a named entry, else the name itself.
  std::string SchemeText(const std::string& name) const;
  // The batch size and reduction a run of that name scores at.
  int64_t BatchTokensOf(const std::string& name) const;
  Reduction ReductionOf(const std::string& name) const;
  std::string RequestsPath() const;
  std::string RunPath(const std::string& scheme) const;
  std::string MetricsPath() const;
  std::string ReportDir() const;
  std::string RecommendedPath() const;  // output/recommended.yaml
};

// The recommended entry (one line of YAML, a named scheme entry) appended to
// c's schemes once `qsweep run` has chosen it; returns its name, or "" before
// it is chosen or without the recommend key. Errors name the file.
absl::StatusOr<std::string> AddRecommendedEntry(SweepConfig& c);

// Errors name the file and the key: unknown keys (typos), missing or
// ill-typed values, duplicate scheme or task names, a tp < 1.
absl::StatusOr<SweepConfig> LoadSweepConfig(const std::string& path);
absl::StatusOr<SweepConfig> ParseSweepConfig(const std::string& yaml_text, const std::string& path);

}  // namespace qsweep
