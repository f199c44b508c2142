#include "compare/compare_runs.h"

#include <cmath>
#include <span>
#include <tuple>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "io/run_file.h"

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
  s.logsumexp = r.logsumexp;
  return s;
}

std::vector<float> F16Rows(const TokenRows& r) {
  std::vector<float> v(r.logprob_f16.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = F16ToFloat(r.logprob_f16[i]);
  return v;
}

// The candidate's exact token statistics, where they were computed against
// this baseline run: its id recorded, and the baseline's nll recomputed by the
// candidate equal to the baseline's own (to its float32 rounding). Otherwise
// none, with a warning saying why, and the metrics fall back.
std::optional<metrics::ExactTokenStatsView> ExactView(const TokenRows& br, const TokenRows& cr, const RunHeader& ch,
                                                      const RunHeader& bh, const std::string& what,
                                                      const std::string& base_path,
                                                      std::vector<std::string>* warnings) {
  if (!cr.paired) return std::nullopt;
  if (ch.baseline_run_id != RunId(bh)) {
    warnings->push_back(absl::StrFormat(
        "%s: its exact token statistics were computed against another baseline run (id %s, %s is %s): not used",
        what, ch.baseline_run_id, base_path, RunId(bh)));
    return std::nullopt;
  }
  for (int64_t t = 0; t < cr.tokens && t < br.tokens; ++t)
    if (!(std::abs(cr.base_nll[t] - double{br.nll[t]}) <= 1e-4 + 1e-5 * std::abs(cr.base_nll[t]))) {
      warnings->push_back(absl::StrFormat(
          "%s: token %d: the baseline's nll it recomputed (%.9g) is not the baseline's own (%.9g in %s): its exact "
          "token statistics are not used", what, t, cr.base_nll[t], br.nll[t], base_path));
      return std::nullopt;
    }
  metrics::ExactTokenStatsView v;
  v.what = what;
  v.n_tokens = cr.tokens;
  v.kl_base_cand = cr.kl_base_cand;
  v.kl_cand_base = cr.kl_cand_base;
  v.base_nll = cr.base_nll;
  v.cand_nll = cr.cand_nll;
  v.base_top1 = cr.base_top1;
  v.cand_topk_id = cr.topk_id;
  v.cand_top_k = cr.topk;
  return v;
}

// The mean time to first token and ms per decoded token of a run's samples.
std::pair<double, double> GenerationSpeed(const GenRows& r) {
  double ttft = 0, decode = 0;
  int64_t steps = 0;
  for (int64_t i = 0; i < r.samples; ++i) {
    ttft += r.ttft_ms[i];
    decode += r.decode_ms[i];
    steps += std::max(0, r.n_tokens[i] - 1);
  }
  return {r.samples ? ttft / r.samples : NAN, steps ? decode / steps : NAN};
}

// One generative task of a candidate against the baseline's.
absl::StatusOr<GenerationMetrics> CompareGenerationRuns(const std::string& name, const GenRows& b, const GenRows& c,
                                                        const std::string& what) {
  if (b.samples != c.samples || b.max_tokens != c.max_tokens)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d samples of up to %d tokens, the baseline %d of %d", what,
                                                      c.samples, c.max_tokens, b.samples, b.max_tokens));
  GenerationMetrics g;
  g.task = name;
  g.base_correct = b.correct;
  g.correct = c.correct;
  for (int64_t i = 0; i < b.samples; ++i) {
    const std::span<const int32_t> bt(b.tokens.data() + i * b.max_tokens, b.n_tokens[i]);
    const std::span<const int32_t> ct(c.tokens.data() + i * c.max_tokens, c.n_tokens[i]);
    g.pairs.push_back(metrics::CompareGenerations(bt, ct));
  }
  g.summary = metrics::SummarizeGenerations(b.correct, c.correct, g.pairs);
  std::tie(g.base_ttft_ms, g.base_ms_per_token) = GenerationSpeed(b);
  std::tie(g.ttft_ms, g.ms_per_token) = GenerationSpeed(c);
  return g;
}

// Whether two runs are of one scheme (their JSON without the display name,
// which a rerun of the baseline's scheme has its own of).
std::string WithoutName(std::string json);
bool SameScheme(const RunHeader& a, const RunHeader& b) {
  return !a.scheme_json.empty() && WithoutName(a.scheme_json) == WithoutName(b.scheme_json);
}

std::string WithoutName(std::string json) {
  const std::string key = "\"name\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return json;
  const size_t end = json.find('"', at + key.size());
  if (end == std::string::npos) return json;
  return json.erase(at, end + 1 - at);
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
  for (const auto& [name, r] : base.data.gens) m.generation_names.push_back(name);
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
    else if (ReductionOf(ch) != ReductionOf(bh) && !SameScheme(ch, bh))
      m.warnings.push_back(absl::StrFormat(
          "%s summed its row-parallel layers %s, the baseline %s %s: its differences include that rounding",
          c.path, ReductionOf(ch), base.path, ReductionOf(bh)));
    if (!ch.batch_invariant || !bh.batch_invariant)
      m.warnings.push_back(absl::StrFormat(
          "%s was scored before batch-invariant scoring: its differences from the baseline include how "
          "samples were batched (rerun it for a noise floor of zero)",
          !ch.batch_invariant ? c.path : base.path));
    if (c.data.tasks.size() != base.data.tasks.size() || c.data.corpora.size() != base.data.corpora.size() ||
        c.data.gens.size() != base.data.gens.size())
      return absl::InvalidArgumentError(absl::StrFormat("%s and %s hold different tasks", c.path, base.path));
    CandidateMetrics cm;
    cm.scheme = ch.scheme;
    cm.path = c.path;
    cm.scheme_json = ch.scheme_json;
    cm.noise_floor = SameScheme(ch, bh);
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
      const std::string what = c.path + ":/ppl/" + name;
      const std::optional<metrics::ExactTokenStatsView> exact = ExactView(br, cr, ch, bh, what, base.path, &m.warnings);
      if (!exact && br.vocab > 0 && cr.vocab == br.vocab) {
        bf = F16Rows(br);
        cf = F16Rows(cr);
        rows = metrics::FullLogProbRows{bf, cf, br.vocab};
      }
      QSWEEP_ASSIGN_OR_RETURN(metrics::TokenComparison cmp,
                              metrics::CompareTokenRuns(bs, cs, rows, exact ? &*exact : nullptr));
      cm.corpora.push_back({name, std::move(cmp)});
    }
    for (size_t i = 0; i < base.data.gens.size(); ++i) {
      const auto& [name, br] = base.data.gens[i];
      const auto& [cname, cr] = c.data.gens[i];
      if (name != cname)
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: generative task %s where the baseline has %s", c.path, cname, name));
      QSWEEP_ASSIGN_OR_RETURN(GenerationMetrics g, CompareGenerationRuns(name, br, cr, c.path + ":/generate/" + name));
      cm.generations.push_back(std::move(g));
    }
    m.candidates.push_back(std::move(cm));
  }
  return m;
}

}  // namespace qsweep
