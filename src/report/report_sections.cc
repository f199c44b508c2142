#include "report/report_sections.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "report/checkpoint_source.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "quant/scheme.h"
#include "report/dashboard.h"
#include "report/decision.h"
#include "report/readable.h"

namespace qsweep {
namespace {

struct Column {
  std::string title, legend;
};

std::string Table(const std::vector<Column>& columns, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& marked = {}) {
  std::string s = "<table><tr>";
  for (const Column& c : columns) s += "<th title=\"" + HtmlEscape(c.legend) + "\">" + HtmlEscape(c.title) + "</th>";
  s += "</tr>";
  for (size_t r = 0; r < rows.size(); ++r) {
    s += r < marked.size() && marked[r] ? "<tr class=base>" : "<tr>";
    for (size_t c = 0; c < rows[r].size(); ++c)
      s += (c == 0 ? "<td class=name>" : "<td>") + HtmlEscape(rows[r][c]) + "</td>";
    s += "</tr>";
  }
  s += "</table><p class=legend>";
  for (const Column& c : columns)
    if (!c.legend.empty()) s += "<b>" + HtmlEscape(c.title) + "</b>: " + HtmlEscape(c.legend) + ". ";
  return s + "</p>";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string s;
  for (char c : text)
    s += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  return s;
}

std::string DecisionSection(const MetricsFileData& m) {
  std::string s = "<section id=decision><h2>Decision summary</h2><ul>";
  for (const std::string& line : DecisionLines(m)) s += "<li>" + HtmlEscape(line) + "</li>";
  s += "</ul><h3>By use</h3><ul>";
  for (const std::string& line : Recommend(m)) s += "<li>" + HtmlEscape(line) + "</li>";
  return s + absl::StrFormat("</ul><p class=legend>Equivalent to the baseline: at most %s of answers flip and the "
                             "Δaccuracy interval (95%%, paired bootstrap) contains 0.</p></section>\n",
                             ReadablePercent(kEquivalentFlipRate));
}

std::string SummarySection(const MetricsFileData& m) {
  const bool ppl = !m.corpus_names.empty();
  // Each scheme's source, shown where a run's weights were made elsewhere.
  std::vector<CheckpointSource> sources(m.schemes.size(), CheckpointSource{"qsweep", "", ""});
  bool any_elsewhere = false;
  for (const MetricsCandidateData& c : m.candidates)
    if (const int i = m.IndexOf(c.scheme); i > 0) {
      sources[i] = SourceOf(c.scheme_json);
      any_elsewhere = any_elsewhere || sources[i].kind != "qsweep";
    }
  std::vector<Column> columns = {
      {"scheme", ""},
      {"bits/weight", "bits per weight of the whole model, scales and zero points included"},
      {"size", "the weights' bytes"},
      {"accuracy", "over all tasks' samples"},
      {"Δacc [95% CI]", "accuracy minus the baseline's, paired bootstrap interval"},
      {"flips c→i", "share of samples correct in the baseline and wrong here"},
      {"flips i→c", "share wrong in the baseline and correct here"},
      {"McNemar p", "exact test that the two flip directions are equally likely"},
      {"answer KL", "mean KL(baseline ‖ scheme) of the softmax over each sample's choices, nats"}};
  if (ppl) {
    columns.push_back({"PPL", "perplexity on " + m.corpus_names[0]});
    columns.push_back({"token KL", "mean KL(baseline ‖ scheme) per token of " + m.corpus_names[0] + ", nats"});
  }
  if (any_elsewhere)
    columns.push_back({"source", "quantized by qsweep, or a checkpoint made elsewhere (GGUF, GPTQ, AWQ) with its "
                                 "stored formats"});
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> marked;
  for (size_t i = 0; i < m.schemes.size(); ++i) {
    const bool base = i == 0;
    std::string name = base ? m.schemes[i] + " (baseline)" : m.schemes[i];
    for (const MetricsCandidateData& c : m.candidates)
      if (!base && c.scheme == m.schemes[i] && c.noise_floor) name += " (noise floor)";
    std::vector<std::string> r = {name,
                                  ReadableFixed(m.Value("bits_per_weight", i), 2),
                                  ReadableBytes(m.Value("size_gb", i) * 1e9),
                                  ReadablePercent(m.Value("accuracy", i))};
    if (base) {
      r.insert(r.end(), {"", "", "", "", ""});
    } else {
      r.push_back(ReadableDelta(m.Value("delta_accuracy", i)) + " " +
                  ReadableInterval(m.Value("delta_accuracy_lo", i), m.Value("delta_accuracy_hi", i)));
      r.push_back(ReadablePercent(m.Value("flips_correct_to_incorrect", i)));
      r.push_back(ReadablePercent(m.Value("flips_incorrect_to_correct", i)));
      r.push_back(ReadablePValue(m.Value("mcnemar_p", i)));
      r.push_back(ReadableKl(m.Value("answer_kl_mean", i)));
    }
    if (ppl) {
      r.push_back(ReadableFixed(m.Value("ppl", i), 3));
      r.push_back(base ? "" : ReadableKl(m.Value("token_kl_mean", i)));
    }
    if (any_elsewhere)
      r.push_back(sources[i].kind == "qsweep" ? "qsweep" : sources[i].kind + ": " + sources[i].formats);
    rows.push_back(r);
    marked.push_back(base);
  }
  return "<section id=summary><h2>Summary</h2>" + Table(columns, rows, marked) + "</section>\n";
}

std::string TaskSection(const MetricsFileData& m) {
  if (m.task_names.empty() || m.candidates.empty()) return "";
  const std::vector<Column> columns = {
      {"scheme", ""},
      {"accuracy", "the scheme's, on this task"},
      {"Δacc [95% CI]", "against the baseline's accuracy on this task"},
      {"flips c→i", "share of this task's samples"},
      {"flips i→c", "share of this task's samples"},
      {"answer KL", "mean over this task's samples, nats"}};
  std::string s = "<section id=tasks><h2>Per task</h2><p>Rows sorted worst Δaccuracy first: an average over tasks "
                  "hides the task a user cares about.</p>";
  for (const std::string& task : m.task_names) {
    std::vector<const MetricsCandidateData*> order;
    for (const auto& c : m.candidates)
      if (c.tasks.count(task)) order.push_back(&c);
    if (order.empty()) continue;
    std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
      const auto &x = a->tasks.at(task), &y = b->tasks.at(task);
      return x.accuracy - x.accuracy_base < y.accuracy - y.accuracy_base;
    });
    std::vector<std::vector<std::string>> rows = {
        {m.baseline + " (baseline)", ReadablePercent(order[0]->tasks.at(task).accuracy_base), "", "", "", ""}};
    for (const auto* c : order) {
      const MetricsTaskSummary& t = c->tasks.at(task);
      rows.push_back({c->scheme, ReadablePercent(t.accuracy),
                      ReadableDelta(t.accuracy - t.accuracy_base) + " " + ReadableInterval(t.delta_lo, t.delta_hi),
                      ReadablePercent(t.flips_c2i), ReadablePercent(t.flips_i2c), ReadableKl(t.answer_kl_mean)});
    }
    std::vector<bool> marked(rows.size(), false);
    marked[0] = true;
    s += "<h3>" + HtmlEscape(task) + "</h3>" + Table(columns, rows, marked);
  }
  s += "<h3>Worst tasks per scheme</h3><ul>";
  for (const auto& c : m.candidates) {
    std::vector<std::pair<double, std::string>> by;
    for (const auto& [task, t] : c.tasks) by.push_back({t.accuracy - t.accuracy_base, task});
    std::sort(by.begin(), by.end());
    std::string line = c.scheme + ":";
    for (size_t k = 0; k < by.size() && k < 3; ++k)
      line += (k ? ", " : " ") + by[k].second + " " + ReadableDelta(by[k].first);
    s += "<li>" + HtmlEscape(line) + "</li>";
  }
  return s + "</ul></section>\n";
}

std::string MixedPrecisionSection(const MetricsFileData& m) {
  std::string s;
  for (const MetricsCandidateData& c : m.candidates) {
    double budget = 0;
    char tail = 0;
    if (std::sscanf(c.scheme.c_str(), "mixed-%lfbpw%c", &budget, &tail) != 1) continue;
    const nlohmann::json j = nlohmann::json::parse(c.scheme_json, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("overrides") || !j["overrides"].is_array()) continue;
    const std::string format = j.value("base", "");
    const std::string keep = j["overrides"].empty() ? "" : j["overrides"][0].value("scheme", "");
    const auto plan = PlanMixedPrecision(m, budget, format, keep.empty() ? format : keep);
    s += "<h3>" + HtmlEscape(c.scheme) + "</h3>";
    if (!plan.ok()) {
      s += "<p>" + HtmlEscape(std::string(plan.status().message())) + "</p>";
      continue;
    }
    s += "<p>" + HtmlEscape(plan->rule) + "</p><pre>" + HtmlEscape(plan->yaml) + "</pre>";
    // Measured beside the uniform schemes of at least its size.
    const size_t self = static_cast<size_t>(std::max(0, m.IndexOf(c.scheme)));
    const double flips = m.FlipRate(self);
    // Its rival: the smallest uniform scheme at least as large (the one a
    // user would pick at this size without the recommendation).
    int better = -1;
    for (size_t i = 1; i < m.schemes.size(); ++i) {
      if (i == self || !ParseScheme(m.schemes[i]).ok() || !(m.Value("size_gb", i) >= m.Value("size_gb", self))) continue;
      if (better < 0 || m.Value("size_gb", i) < m.Value("size_gb", better)) better = static_cast<int>(i);
    }
    std::string verdict;
    if (better < 0) {
      verdict = "No uniform scheme of the sweep is at least as large: nothing to compare it with.";
    } else {
      const double fb = m.FlipRate(better);
      verdict = absl::StrFormat(
          "Measured: %s of answers flip at %s (%.2f bits per weight), against %s for %s at %s, the smallest "
          "uniform scheme of at least its size: %s.",
          ReadablePercent(flips), ReadableBytes(m.Value("size_gb", self) * 1e9), m.Value("bits_per_weight", self),
          ReadablePercent(fb), m.schemes[better], ReadableBytes(m.Value("size_gb", better) * 1e9),
          flips <= fb ? "no more flips in less or equal size" : "more flips — the recommendation does not pay here");
    }
    s += "<p class=verdict>" + HtmlEscape(verdict) + "</p>";
  }
  if (s.empty()) return "";
  return "<section id=mixed><h2>Mixed-precision recommendation</h2>" + s + "</section>\n";
}

}  // namespace qsweep
