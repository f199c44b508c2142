#include "eval/work_units.h"

#include <algorithm>

namespace qsweep {

std::vector<WorkUnit> PlanWorkUnits(const RequestSet& requests, const UnitPlanOptions& options) {
  std::vector<WorkUnit> units;
  // Items [0, n) of one source in units of `per_unit`, numbered in order;
  // first_row(b): where the rows of the unit starting at item b go.
  auto add = [&](WorkUnit::Kind kind, size_t source, int64_t n, int64_t per_unit, auto first_row) {
    for (int64_t b = 0; b < n; b += per_unit)
      units.push_back(WorkUnit{.id = static_cast<int64_t>(units.size()),
                               .kind = kind,
                               .source = static_cast<int64_t>(source),
                               .begin = b,
                               .end = std::min(n, b + per_unit),
                               .first_row = first_row(b)});
  };
  auto same = [](int64_t b) { return b; };
  for (size_t t = 0; t < requests.tasks.size(); ++t)
    add(WorkUnit::Kind::kChoices, t, static_cast<int64_t>(requests.tasks[t].samples.size()), options.samples_per_unit,
        same);
  for (size_t c = 0; c < requests.corpora.size(); ++c) {
    const PplCorpusRequests& corpus = requests.corpora[c];
    const auto windows = PplWindows(static_cast<int64_t>(corpus.tokens.size()), corpus.window, corpus.stride);
    // Token t is scored row t - 1.
    add(WorkUnit::Kind::kTokens, c, static_cast<int64_t>(windows.size()), options.windows_per_unit,
        [&](int64_t b) { return windows[b].score_from - 1; });
  }
  for (size_t t = 0; t < requests.gen_tasks.size(); ++t)
    add(WorkUnit::Kind::kGenerate, t, static_cast<int64_t>(requests.gen_tasks[t].samples.size()),
        options.samples_per_unit, same);
  return units;
}

WorkSize CountWork(const RequestSet& requests, const std::vector<WorkUnit>& units, const std::set<int64_t>& skip) {
  WorkSize w;
  std::vector<std::vector<PplWindow>> windows(requests.corpora.size());  // each corpus's, made once
  for (const WorkUnit& u : units) {
    if (skip.count(u.id)) continue;
    if (u.kind == WorkUnit::Kind::kGenerate) {
      for (int64_t i = u.begin; i < u.end; ++i) {
        ++w.samples;
        w.tokens += static_cast<int64_t>(requests.gen_tasks[u.source].samples[i].prompt.size());
      }
    } else if (u.kind == WorkUnit::Kind::kChoices) {
      for (int64_t i = u.begin; i < u.end; ++i) {
        const McSampleRequest& s = requests.tasks[u.source].samples[i];
        ++w.samples;
        for (const auto& c : s.contexts) w.tokens += static_cast<int64_t>(c.size());
        for (const auto& c : s.continuations) w.tokens += static_cast<int64_t>(c.size());
      }
    } else {
      const PplCorpusRequests& c = requests.corpora[u.source];
      std::vector<PplWindow>& all = windows[u.source];
      if (all.empty()) all = PplWindows(static_cast<int64_t>(c.tokens.size()), c.window, c.stride);
      for (int64_t i = u.begin; i < u.end; ++i) {
        ++w.windows;
        w.tokens += all[i].end - all[i].begin;
      }
    }
  }
  return w;
}

absl::StatusOr<UnitResult> ScoreUnit(LogitScorer& scorer, const RequestSet& requests,
                                     const WorkUnit& unit, const ScoringOptions& options) {
  if (unit.kind == WorkUnit::Kind::kChoices) {
    const McTaskRequests& task = requests.tasks[unit.source];
    auto rows = ScoreChoices(scorer,
                             std::span<const McSampleRequest>(task.samples).subspan(unit.begin, unit.end - unit.begin),
                             task.max_choices());
    if (!rows.ok()) return rows.status();
    return UnitResult(std::move(*rows));
  }
  if (unit.kind == WorkUnit::Kind::kGenerate) {
    auto rows = ScoreGenerations(scorer, requests.gen_tasks[unit.source], unit.begin, unit.end, options.generation);
    if (!rows.ok()) return rows.status();
    return UnitResult(std::move(*rows));
  }
  const PplCorpusRequests& corpus = requests.corpora[unit.source];
  const auto windows = PplWindows(static_cast<int64_t>(corpus.tokens.size()), corpus.window, corpus.stride);
  auto rows = ScoreWindows(scorer, corpus,
                           std::span<const PplWindow>(windows).subspan(unit.begin, unit.end - unit.begin),
                           options.topk, options.full_logprobs,
                           {.keep_hidden = options.keep_hidden,
                            .hidden_bf16 = options.hidden_bf16,
                            .baseline = options.baseline,
                            .corpus = unit.source,
                            .first_token = unit.first_row});
  if (!rows.ok()) return rows.status();
  return UnitResult(std::move(*rows));
}

}  // namespace qsweep
