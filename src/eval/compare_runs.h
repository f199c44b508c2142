// Compares candidate runs with the baseline run, from the run files alone:
// per task and pooled over tasks (accuracy, Δacc, flips, McNemar, answer KL,
// bootstrap CIs, top-margin bins) and per corpus (PPL, token KL, top-1
// agreement, Δp, confidence). Refuses runs of another model or request set.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/run_file.h"
#include "metrics/choice_comparison.h"
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

struct CandidateMetrics {
  std::string scheme, path;
  std::string scheme_json;  // the run's spec (quant/scheme.h SchemeJson)
  double bits_per_weight = 0;
  int64_t bytes = 0;
  std::vector<TaskMetrics> tasks;
  metrics::ChoiceComparison pooled;  // every task's samples together
  std::vector<CorpusMetrics> corpora;
};

struct SweepMetrics {
  std::string baseline_scheme, baseline_path, model, model_id, requests_id;
  double baseline_bits_per_weight = 0;
  int64_t baseline_bytes = 0;
  std::vector<std::string> task_names, corpus_names;
  std::vector<CandidateMetrics> candidates;
  // Things the numbers do not show, e.g. runs made on different backends
  // (whose numerics differ: flips then include the backends' differences).
  std::vector<std::string> warnings;
};

// The backend a run was made on, from its header's `world`
// ("... tp 1, cuda backend" → "cuda"); empty when it does not say.
std::string RunBackend(const std::string& world);
// How it summed its row-parallel layers (parallel.reduction): empty when
// tp-invariant, "fast at tp N" when its rounding depends on its tp
// ("... tp 2, cuda backend, fast reduction").
std::string RunReduction(const std::string& world);

struct NamedRun {
  std::string path;
  RunData data;
};

absl::StatusOr<SweepMetrics> CompareRuns(const NamedRun& baseline, const std::vector<NamedRun>& candidates,
                                         const metrics::ChoiceComparisonOptions& options = {});

}  // namespace qsweep
