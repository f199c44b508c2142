// What the report concludes from a sweep's metrics: for each size budget the
// best measured scheme by flips and by KL, and a mixed-precision
// configuration chosen from a layer-sensitivity sweep.
#pragma once
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/metrics_reader.h"
#include "report/layer_sensitivity.h"

namespace qsweep {

// A scheme is "equivalent to the baseline" when at most this share of its
// answers flip and its Δaccuracy interval contains 0.
inline constexpr double kEquivalentFlipRate = 0.01;

// One sentence per budget: the budgets are the bits per weight of the
// sweep's candidates (sensitivity runs excluded), each taking every candidate at or below it; per budget
// the one with the fewest flips and the one with the least KL (token KL
// where the sweep has a corpus, else answer KL), with Δacc and its interval,
// the flips, and speed and memory where every run measured them.
std::vector<std::string> DecisionLines(const MetricsFileData& m);

// Whether m.schemes[i] is a layer-sensitivity run (one layer quantized) or
// the noise floor (the baseline's scheme scored again): a measurement, not a
// candidate to ship.
bool IsMeasurementRun(const MetricsFileData& m, size_t i);

// Whether `i` (an index into m.schemes, not 0) is equivalent to the baseline,
// and the clause that says so or why not.
std::string EquivalenceClause(const MetricsFileData& m, size_t i);

// Which layers to keep at `keep` when the rest is quantized at `format`,
// for a model-wide budget in bits per weight. Needs the sweep's uniform runs
// of `format` and `keep` (their sizes price each layer) and sensitivity runs
// of `format` (their KL says what a layer costs in quality). The rule: start
// from `format` everywhere; keep at `keep` the cells with the most KL per
// byte of the upgrade, while the model stays within the budget (a greedy
// knapsack; a cell's byte cost is its share of the model's savings at
// `format` times the size difference of the two uniform runs).
struct MixedPrecisionPlan {
  std::string format, keep, name;  // name: mixed-<budget>bpw
  double budget_bpw = 0, bpw = 0;  // asked for, and reached
  double kl_low = 0, kl_kept = 0;  // Σ cell KL at `format`, and of the cells kept
  std::vector<SensitivityCell> kept;
  std::string yaml;  // the sweep config's scheme entry
  std::string rule;  // the sentence for the report
};
absl::StatusOr<MixedPrecisionPlan> PlanMixedPrecision(const MetricsFileData& m, double budget_bpw,
                                                      const std::string& format, const std::string& keep);

}  // namespace qsweep
