// Reads back what `qsweep report` needs from a metrics file.
#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qsweep {

struct MetricsTaskSummary {
  double accuracy_base = 0, accuracy = 0, flip_rate = 0, answer_kl_mean = 0;
  // NaN in metrics files written before they were recorded.
  double mcnemar_p = NAN, delta_lo = NAN, delta_hi = NAN, flips_c2i = NAN, flips_i2c = NAN;
};

struct MetricsCorpusData {
  double ppl_base = 0, ppl = 0;
  bool kl_is_bound = false;
  // "exact", "float16 rows" or "top-K lower bound" (files of before it: the
  // latter two, by kl_is_bound).
  std::string kl_source;
  std::vector<double> token_kl, dp, confidence_base, confidence;
  // With exact statistics: KL(P_cand ‖ P_base) per token, and the summary
  // (metrics/exact_token_stats.h ExactStatsFields' names).
  std::vector<double> token_kl_reverse;
  std::map<std::string, double> exact;
};

// A generative task of a candidate (NaN: not recorded, or not timed).
struct MetricsGenerationSummary {
  double accuracy_base = NAN, accuracy = NAN, flips_c2i = NAN, flips_i2c = NAN, identical = NAN,
         mean_token_agreement = NAN, ms_per_token = NAN, ms_per_token_base = NAN, ttft_ms = NAN, ttft_ms_base = NAN;
};

struct MetricsCandidateData {
  std::string scheme;
  std::string scheme_json;  // empty in files written before it was recorded
  bool noise_floor = false;  // the baseline's scheme scored again
  std::vector<double> bin_lo, bin_hi, bin_flip_probability, bin_mean_abs_dp, answer_kl;
  std::vector<int64_t> bin_count;
  std::map<std::string, MetricsTaskSummary> tasks;
  std::map<std::string, MetricsCorpusData> corpora;
  std::map<std::string, MetricsGenerationSummary> generations;
};

struct MetricsFileData {
  std::string model, baseline;
  std::vector<std::string> schemes;                     // summary rows, baseline first
  std::vector<std::string> devices;                     // per scheme, what its speed was measured on ("": unknown)
  std::map<std::string, std::vector<double>> summary;   // column → [schemes]
  std::vector<std::string> task_names, corpus_names, generation_names;
  std::vector<MetricsCandidateData> candidates;

  // The summary's `column` for schemes[i]; NaN where the file lacks it.
  double Value(const std::string& column, size_t i) const {
    auto it = summary.find(column);
    return it == summary.end() || i >= it->second.size() ? NAN : it->second[i];
  }
  // Both flip directions of schemes[i].
  double FlipRate(size_t i) const {
    return Value("flips_correct_to_incorrect", i) + Value("flips_incorrect_to_correct", i);
  }
  // Whether every run measured `column` (speed and memory are 0 where not).
  bool AllMeasured(const std::string& column) const {
    for (size_t i = 0; i < schemes.size(); ++i)
      if (!(Value(column, i) > 0)) return false;
    return !schemes.empty();
  }
  // The index of `scheme` in schemes; -1 when absent.
  int IndexOf(const std::string& scheme) const {
    for (size_t i = 0; i < schemes.size(); ++i)
      if (schemes[i] == scheme) return static_cast<int>(i);
    return -1;
  }
};

absl::StatusOr<MetricsFileData> ReadMetricsFile(const std::string& path);

}  // namespace qsweep
