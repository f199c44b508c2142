#include "compare/compare_runs.h"

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

// Views of a run's task arrays for the metrics (bytes narrowed to int32).
struct ChoiceView {
  std::vector<int32_t> bytes;
  metrics::ChoiceScores scores;
};

ChoiceView View(const ChoiceRows& r, const std::string& what) {
  ChoiceView v;
  v.bytes.assign(r.choice_bytes.begin(), r.choice_bytes.end());
  for (size_t i = 0; i < v.bytes.size(); ++i)
    if (i % r.max_choices >= static_cast<size_t>(r.n_choices[i / r.max_choices])) v.bytes[i] = 1;
  v.scores.what = what;
  v.scores.n_samples = r.samples;
  v.scores.max_choices = r.max_choices;
  v.scores.n_choices = r.n_choices;
  v.scores.label = r.label;
  v.scores.logprob = r.choice_logprob;
  v.scores.bytes = v.bytes;
  return v;
}

// All tasks' samples in one set, padded to the widest task.
ChoiceRows Pool(const RunData& run) {
  ChoiceRows p;
  for (const auto& [name, r] : run.tasks) p.max_choices = std::max(p.max_choices, r.max_choices);
  for (const auto& [name, r] : run.tasks) {
    p.samples += r.samples;
    ForEachColumn(
        [&](const auto& pooled, const auto& task) {
          for (int64_t i = 0; i < task.rows; ++i)
            for (int64_t c = 0; c < pooled.width(); ++c)
              pooled.values.push_back(c < task.width() ? task.values[i * task.width() + c] : pooled.pad);
        },
        p, r);
  }
  return p;
}

metrics::TokenScores TokenView(const TokenRows& r, const std::string& what) {
  metrics::TokenScores s;
  s.what = what;
  s.n_tokens = r.tokens;
  s.top_k = r.topk;
  s.nll = r.nll;
  s.topk_id = r.topk_id;
  s.topk_logprob = r.topk_logprob;
  s.token_id = r.token_id;
  return s;
}

std::vector<float> F16Rows(const TokenRows& r) {
  std::vector<float> v(r.logprob_f16.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = F16ToFloat(r.logprob_f16[i]);
  return v;
}

}  // namespace

std::string ReductionOf(const RunHeader& h) {
  return h.reduction == Reduction::kFast ? absl::StrFormat("fast at tp %d", h.tp) : "tp-invariantly";
}

absl::StatusOr<SweepMetrics> CompareRuns(const NamedRun& base, const std::vector<NamedRun>& cands,
                                         const metrics::ChoiceComparisonOptions& options) {
  SweepMetrics m;
  const RunHeader& bh = base.data.header;
  m.baseline_scheme = bh.scheme;
  m.baseline_path = base.path;
  m.model = bh.model;
  m.model_id = bh.model_id;
  m.requests_id = bh.requests_id;
  m.baseline_bits_per_weight = bh.bits_per_weight;
  m.baseline_bytes = bh.model_bytes;
  m.baseline_performance = base.data.performance;
  for (const auto& [name, r] : base.data.tasks) m.task_names.push_back(name);
  for (const auto& [name, r] : base.data.corpora) m.corpus_names.push_back(name);
  const ChoiceRows base_pool = Pool(base.data);
  for (const NamedRun& c : cands) {
    const RunHeader& ch = c.data.header;
    if (ch.model_id != bh.model_id)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is a run of another model (%s, id %s) than the baseline %s (%s, id %s)", c.path, ch.model,
          ch.model_id, base.path, bh.model, bh.model_id));
    if (ch.requests_id != bh.requests_id)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s scored other requests (id %s) than the baseline %s (id %s): another task set or tokenization",
          c.path, ch.requests_id, base.path, bh.requests_id));
    if (ch.backend != bh.backend)
      m.warnings.push_back(absl::StrFormat(
          "%s ran on the %s backend, the baseline %s on %s: its differences include the backends' numerics",
          c.path, Name(ch.backend), base.path, Name(bh.backend)));
    else if (ReductionOf(ch) != ReductionOf(bh))
      m.warnings.push_back(absl::StrFormat(
          "%s summed its row-parallel layers %s, the baseline %s %s: its differences include that rounding",
          c.path, ReductionOf(ch), base.path, ReductionOf(bh)));
    if (!ch.batch_invariant || !bh.batch_invariant)
      m.warnings.push_back(absl::StrFormat(
          "%s was scored before batch-invariant scoring: its differences from the baseline include how "
          "samples were batched (rerun it for a noise floor of zero)",
          !ch.batch_invariant ? c.path : base.path));
    if (c.data.tasks.size() != base.data.tasks.size() || c.data.corpora.size() != base.data.corpora.size())
      return absl::InvalidArgumentError(absl::StrFormat("%s and %s hold different tasks", c.path, base.path));
    CandidateMetrics cm;
    cm.scheme = ch.scheme;
    cm.path = c.path;
    cm.scheme_json = ch.scheme_json;
    cm.bits_per_weight = ch.bits_per_weight;
    cm.bytes = ch.model_bytes;
    cm.performance = c.data.performance;
    for (size_t t = 0; t < base.data.tasks.size(); ++t) {
      const auto& [name, br] = base.data.tasks[t];
      const auto& [cname, cr] = c.data.tasks[t];
      if (name != cname)
        return absl::InvalidArgumentError(absl::StrFormat("%s: task %s where the baseline has %s", c.path, cname, name));
      const ChoiceView bv = View(br, base.path + ":/tasks/" + name), cv = View(cr, c.path + ":/tasks/" + name);
      QSWEEP_ASSIGN_OR_RETURN(metrics::ChoiceComparison cmp, metrics::CompareChoiceRuns(bv.scores, cv.scores, options));
      cm.tasks.push_back({name, std::move(cmp)});
    }
    if (!base.data.tasks.empty()) {
      const ChoiceRows cand_pool = Pool(c.data);
      const ChoiceView bv = View(base_pool, base.path + ":/tasks (all)"), cv = View(cand_pool, c.path + ":/tasks (all)");
      QSWEEP_ASSIGN_OR_RETURN(cm.pooled, metrics::CompareChoiceRuns(bv.scores, cv.scores, options));
    }
    for (size_t i = 0; i < base.data.corpora.size(); ++i) {
      const auto& [name, br] = base.data.corpora[i];
      const auto& [cname, cr] = c.data.corpora[i];
      const auto bs = TokenView(br, base.path + ":/ppl/" + name), cs = TokenView(cr, c.path + ":/ppl/" + name);
      std::optional<metrics::FullLogProbRows> rows;
      std::vector<float> bf, cf;
      if (br.vocab > 0 && cr.vocab == br.vocab) {
        bf = F16Rows(br);
        cf = F16Rows(cr);
        rows = metrics::FullLogProbRows{bf, cf, br.vocab};
      }
      QSWEEP_ASSIGN_OR_RETURN(metrics::TokenComparison cmp, metrics::CompareTokenRuns(bs, cs, rows));
      cm.corpora.push_back({name, std::move(cmp)});
    }
    m.candidates.push_back(std::move(cm));
  }
  return m;
}

}  // namespace qsweep
