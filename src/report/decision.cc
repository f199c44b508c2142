#include "report/decision.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "report/readable.h"
#include "report/speed_caveat.h"

namespace qsweep {
namespace {

// Token KL where the sweep scored a corpus, else answer KL.
std::string KlColumn(const MetricsFileData& m) { return m.corpus_names.empty() ? "answer_kl_mean" : "token_kl_mean"; }

// The share of generated answers that flipped (both ways), over every
// generative task of the scheme's run; NaN where it has none.
double GenerationFlipRate(const MetricsFileData& m, const std::string& scheme) {
  for (const MetricsCandidateData& c : m.candidates) {
    if (c.scheme != scheme || c.generations.empty()) continue;
    double sum = 0;
    for (const auto& [task, g] : c.generations) sum += g.flips_c2i + g.flips_i2c;
    return sum / static_cast<double>(c.generations.size());
  }
  return NAN;
}

}  // namespace

bool IsMeasurementRun(const MetricsFileData& m, size_t i) {
  for (const MetricsCandidateData& c : m.candidates)
    if (i < m.schemes.size() && c.scheme == m.schemes[i])
      return c.noise_floor || SensitivityCellOf(c.scheme_json).has_value();
  return false;
}

std::string EquivalenceClause(const MetricsFileData& m, size_t i) {
  const double flips = m.FlipRate(i), lo = m.Value("delta_accuracy_lo", i), hi = m.Value("delta_accuracy_hi", i);
  if (hi < 0) return "significantly worse than the baseline";
  if (lo > 0) return "significantly better than the baseline on these tasks";
  if (flips > kEquivalentFlipRate)
    return absl::StrFormat("but %s of answers flip — not equivalent to the baseline", ReadablePercent(flips));
  return absl::StrFormat("and %s of answers flip — equivalent to the baseline", ReadablePercent(flips));
}

std::vector<std::string> DecisionLines(const MetricsFileData& m) {
  std::vector<std::string> out;
  const size_t n = m.schemes.size();
  std::set<double> budgets;
  for (size_t i = 1; i < n; ++i)
    if (std::isfinite(m.Value("bits_per_weight", i)) && !IsMeasurementRun(m, i))
      budgets.insert(m.Value("bits_per_weight", i));
  const std::string kl = KlColumn(m);
  const bool speed = m.AllMeasured("samples_per_s"), memory = m.AllMeasured("weight_gib");
  auto describe = [&](size_t i) {
    std::string s = absl::StrFormat("%s (Δacc %s %s, %s", m.schemes[i], ReadableDelta(m.Value("delta_accuracy", i)),
                                    ReadableInterval(m.Value("delta_accuracy_lo", i), m.Value("delta_accuracy_hi", i)),
                                    EquivalenceClause(m, i));
    s += absl::StrFormat("; %s %s", kl == "token_kl_mean" ? "token KL" : "answer KL", ReadableKl(m.Value(kl, i)));
    if (const double g = GenerationFlipRate(m, m.schemes[i]); std::isfinite(g))
      s += absl::StrFormat("; %s of generated answers flip", ReadablePercent(g));
    if (speed)
      s += absl::StrFormat("; %.3g samples/s%s", m.Value("samples_per_s", i),
                           SpeedCaveat(m, i).empty() ? "" : " (not native on sm_90)");
    if (memory) s += absl::StrFormat("; weights %s on the device", ReadableBytes(m.Value("weight_gib", i) * 1073741824.0));
    return s + ")";
  };
  for (double b : budgets) {
    int by_flips = -1, by_kl = -1;
    for (size_t i = 1; i < n; ++i) {
      if (!(m.Value("bits_per_weight", i) <= b) || IsMeasurementRun(m, i)) continue;
      if (by_flips < 0 || m.FlipRate(i) < m.FlipRate(by_flips)) by_flips = static_cast<int>(i);
      if (by_kl < 0 || m.Value(kl, i) < m.Value(kl, by_kl)) by_kl = static_cast<int>(i);
    }
    std::string line = absl::StrFormat("At most %.2f bits per weight: fewest flips %s", b, describe(by_flips));
    line += by_kl == by_flips ? ", also the least KL." : absl::StrFormat("; least KL %s.", describe(by_kl));
    out.push_back(line);
  }
  return out;
}

absl::StatusOr<MixedPrecisionPlan> PlanMixedPrecision(const MetricsFileData& m, double budget_bpw,
                                                      const std::string& format, const std::string& keep) {
  const int low = m.IndexOf(format), high = m.IndexOf(keep);
  if (low < 0 || high < 0)
    return absl::FailedPreconditionError(absl::StrFormat(
        "a mixed-precision plan of %s with layers kept at %s needs both as uniform runs of the sweep (their sizes "
        "price each layer); the sweep has %s", format, keep, absl::StrJoin(m.schemes, ", ")));
  const double s_base = m.Value("size_gb", 0), bpw_base = m.Value("bits_per_weight", 0);
  const double s_low = m.Value("size_gb", low), s_high = m.Value("size_gb", high);
  if (!(s_base > s_low) || !(s_high > s_low) || !(bpw_base > 0))
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s (%.4g GB) must be smaller than both the baseline (%.4g GB) and %s (%.4g GB)", format, s_low, s_base, keep,
        s_high));
  const std::string kl = KlColumn(m);
  struct Cell {
    SensitivityCell cell;
    double kl, cost_gb;
  };
  std::vector<Cell> cells;
  for (const MetricsCandidateData& c : m.candidates) {
    const std::optional<SensitivityCell> cell = SensitivityCellOf(c.scheme_json);
    if (!cell || cell->format != format) continue;
    const int i = m.IndexOf(c.scheme);
    // The cell's share of the model's savings at `format`, times the upgrade.
    const double share = (s_base - m.Value("size_gb", i)) / (s_base - s_low);
    cells.push_back({*cell, std::max(0.0, m.Value(kl, i)), share * (s_high - s_low)});
  }
  if (cells.empty())
    return absl::FailedPreconditionError(absl::StrFormat(
        "no layer-sensitivity runs of %s in the sweep (the config's sensitivity key: {format: %s, layers: ...})",
        format, format));
  const double budget_gb = budget_bpw / bpw_base * s_base;
  MixedPrecisionPlan p;
  p.format = format;
  p.keep = keep;
  p.budget_bpw = budget_bpw;
  std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
    return a.kl * b.cost_gb > b.kl * a.cost_gb || (a.kl * b.cost_gb == b.kl * a.cost_gb && a.cell.layer < b.cell.layer);
  });
  double size = s_low;
  for (const Cell& c : cells) {
    p.kl_low += c.kl;
    if (c.kl > 0 && c.cost_gb > 0 && size + c.cost_gb <= budget_gb) {
      size += c.cost_gb;
      p.kl_kept += c.kl;
      p.kept.push_back(c.cell);
    }
  }
  p.bpw = size / s_base * bpw_base;
  p.name = absl::StrFormat("mixed-%gbpw", budget_bpw);
  // Kept cells grouped by layer: one override rule per layer.
  std::map<int64_t, std::vector<std::string>> by_layer;
  for (const SensitivityCell& c : p.kept) by_layer[c.layer].push_back(c.projection);
  std::vector<std::string> rules;
  for (const auto& [layer, projections] : by_layer) {
    const bool all = std::find(projections.begin(), projections.end(), "all") != projections.end();
    rules.push_back(all ? absl::StrFormat("{layers: \"%d\", format: %s}", layer, keep)
                        : absl::StrFormat("{layers: \"%d\", projections: [%s], format: %s}", layer,
                                          absl::StrJoin(projections, ", "), keep));
  }
  p.yaml = absl::StrFormat("{name: %s, scheme: %s, overrides: [%s]}", p.name, format, absl::StrJoin(rules, ", "));
  p.rule = absl::StrFormat(
      "Start from %s everywhere (%.2f bits per weight); keep at %s the layers with the most KL per byte of the "
      "upgrade (KL measured with only that layer at %s) while the model stays within %.2f bits per weight. "
      "%d of %d layers kept, %.2f bits per weight, %.0f%% of the layers' summed KL avoided.",
      format, m.Value("bits_per_weight", low), keep, format, budget_bpw, p.kept.size(), cells.size(), p.bpw,
      p.kl_low > 0 ? 100 * p.kl_kept / p.kl_low : 0.0);
  return p;
}

}  // namespace qsweep
