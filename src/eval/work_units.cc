#include "eval/work_units.h"

#include <algorithm>

namespace qsweep {

std::vector<WorkUnit> PlanWorkUnits(const RequestSet& requests, const UnitPlanOptions& options) {
  std::vector<WorkUnit> units;
  for (size_t t = 0; t < requests.tasks.size(); ++t) {
    const int64_t n = static_cast<int64_t>(requests.tasks[t].samples.size());
    for (int64_t b = 0; b < n; b += options.samples_per_unit) {
      WorkUnit u;
      u.id = static_cast<int64_t>(units.size());
      u.kind = WorkUnit::Kind::kChoices;
      u.source = static_cast<int64_t>(t);
      u.begin = b;
      u.end = std::min(n, b + options.samples_per_unit);
      u.first_row = b;
      units.push_back(u);
    }
  }
  for (size_t c = 0; c < requests.corpora.size(); ++c) {
    const PplCorpusRequests& corpus = requests.corpora[c];
    const auto windows = PplWindows(static_cast<int64_t>(corpus.tokens.size()), corpus.window, corpus.stride);
    const int64_t n = static_cast<int64_t>(windows.size());
    for (int64_t b = 0; b < n; b += options.windows_per_unit) {
      WorkUnit u;
      u.id = static_cast<int64_t>(units.size());
      u.kind = WorkUnit::Kind::kTokens;
      u.source = static_cast<int64_t>(c);
      u.begin = b;
      u.end = std::min(n, b + options.windows_per_unit);
      u.first_row = windows[b].score_from - 1;  // token t is scored row t - 1
      units.push_back(u);
    }
  }
  for (size_t t = 0; t < requests.gen_tasks.size(); ++t) {
    const int64_t n = static_cast<int64_t>(requests.gen_tasks[t].samples.size());
    for (int64_t b = 0; b < n; b += options.samples_per_unit) {
      WorkUnit u;
      u.id = static_cast<int64_t>(units.size());
      u.kind = WorkUnit::Kind::kGenerate;
      u.source = static_cast<int64_t>(t);
      u.begin = b;
      u.end = std::min(n, b + options.samples_per_unit);
      u.first_row = b;
      units.push_back(u);
    }
  }
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
