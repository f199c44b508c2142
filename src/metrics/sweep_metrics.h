// What `qsweep metrics` computes for a sweep (compare/compare_runs.h fills
// it; io/metrics_file.h writes it; report/ summarizes it): per candidate, per
// task and pooled over tasks, and per corpus. Pure data over the one-concept
// results beside it, so the rooms above can all hold it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/run_performance.h"

#include "metrics/choice_comparison.h"
#include "metrics/generation_compare.h"
#include "metrics/token_comparison.h"

namespace qsweep {

struct TaskMetrics {
  std::string task;
  metrics::ChoiceComparison comparison;
};

struct CorpusMetrics {
  std::string corpus;
  metrics::TokenComparison comparison;
};

// A generative task: the candidate's greedy continuations against the
// baseline's, sample by sample, and how fast each generated (means over the
// samples of the time to first token and of ms per decoded token, as each
// sequence saw them: NaN where a run did not time it).
struct GenerationMetrics {
  std::string task;
  metrics::GenerationSummary summary;
  std::vector<metrics::GenerationPair> pairs;  // per sample
  std::vector<uint8_t> base_correct, correct;  // per sample
  double base_ttft_ms = 0, ttft_ms = 0, base_ms_per_token = 0, ms_per_token = 0;
};

struct CandidateMetrics {
  std::string scheme, path;
  std::string scheme_json;  // the run's spec (quant/scheme.h SchemeJson)
  // The baseline's own scheme scored again (under another name, batch size
  // or reduction): its differences are the sweep's numerical noise floor.
  bool noise_floor = false;
  double bits_per_weight = 0;
  int64_t bytes = 0;
  RunPerformance performance;  // the run's own measurement (run files carry it)
  std::vector<TaskMetrics> tasks;
  metrics::ChoiceComparison pooled;  // every task's samples together
  std::vector<CorpusMetrics> corpora;
  std::vector<GenerationMetrics> generations;
};

struct SweepMetrics {
  std::string baseline_scheme, baseline_path, model, model_id, requests_id;
  double baseline_bits_per_weight = 0;
  int64_t baseline_bytes = 0;
  RunPerformance baseline_performance;
  std::vector<std::string> task_names, corpus_names, generation_names;
  std::vector<CandidateMetrics> candidates;
  // Things the numbers do not show, e.g. runs made on different backends
  // (whose numerics differ: flips then include the backends' differences).
  std::vector<std::string> warnings;
};

}  // namespace qsweep
