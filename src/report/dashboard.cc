#include "report/dashboard.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "quant/scheme.h"
#include "report/checkpoint_source.h"
#include "report/decision.h"
#include "report/layer_sensitivity.h"
#include "report/readable.h"
#include "report/speed_caveat.h"
#include "report/report_sections.h"

namespace qsweep {

std::string JsonForScript(std::string json) {
  for (size_t p = json.find("</"); p != std::string::npos; p = json.find("</", p + 3)) json.replace(p, 2, "<\\/");
  return json;
}

namespace {

// A checkpoint made elsewhere is a family of its source (gguf, gptq, awq);
// qsweep's own schemes go by their name.
std::string FamilyOf(const MetricsFileData& m, size_t i) {
  for (const MetricsCandidateData& c : m.candidates)
    if (c.scheme == m.schemes[i])
      if (const CheckpointSource s = SourceOf(c.scheme_json); s.kind != "qsweep") return s.kind;
  return SchemeFamily(m.schemes[i]);
}


using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct Chart {
  std::string id, title, caption;
  Json rows;  // the data table (array of flat objects)
  Json spec;  // Vega-Lite, data.values filled from rows
};

double Num(double v) { return std::isfinite(v) ? v : 0.0; }

std::string Csv(const Json& rows) {
  if (rows.empty()) return "";
  std::string s;
  std::vector<std::string> keys;
  for (const auto& [k, v] : rows[0].items()) keys.push_back(k);
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? "," : "") + keys[i];
  s += "\n";
  for (const Json& r : rows) {
    for (size_t i = 0; i < keys.size(); ++i) {
      const Json& v = r[keys[i]];
      std::string cell = v.is_string() ? v.get<std::string>() : v.dump();
      if (cell.find_first_of(",\"\n") != std::string::npos) {
        std::string q = "\"";
        for (char ch : cell) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        cell = q + "\"";
      }
      s += (i ? "," : "") + cell;
    }
    s += "\n";
  }
  return s;
}

// Invalid UTF-8 (names from a Latin-1 file) becomes U+FFFD instead of an
// exception.
std::string ScriptJson(const Json& j) {
  return JsonForScript(j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string HtmlTable(const Json& rows, size_t limit = 200) {
  if (rows.empty()) return "<p>(no rows)</p>";
  std::string s = "<table><tr>";
  for (const auto& [k, v] : rows[0].items()) s += "<th>" + HtmlEscape(k) + "</th>";
  s += "</tr>";
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    s += "<tr>";
    for (const auto& [k, v] : rows[i].items())
      s += "<td>" + HtmlEscape(v.is_number_float() ? absl::StrFormat("%.6g", v.get<double>()) : v.is_string() ? v.get<std::string>() : v.dump()) + "</td>";
    s += "</tr>";
  }
  if (rows.size() > limit) s += absl::StrFormat("<tr><td colspan=99>… %d more rows in the CSV</td></tr>", rows.size() - limit);
  return s + "</table>";
}

Json Base(const std::string& mark_title) {
  return Json{{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"}, {"width", 520}, {"height", 300},
              {"title", mark_title}};
}

// Points (x, y) where no other point is at least as good in both (smaller x, larger y).
std::vector<bool> ParetoFront(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<bool> front(x.size(), true);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < x.size(); ++j)
      if (j != i && x[j] <= x[i] && y[j] >= y[i] && (x[j] < x[i] || y[j] > y[i])) front[i] = false;
  return front;
}

const MetricsCandidateData* CandidateOf(const MetricsFileData& m, const std::string& scheme) {
  for (const auto& c : m.candidates)
    if (c.scheme == scheme) return &c;
  return nullptr;
}

// Perplexity vs bits per weight.
Chart PplVsBpwChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"ppl_vs_bpw", "Perplexity vs bits per weight", "Lower is better; one line per quantization family.", Json::array(), {}};
  for (size_t i = 0; i < n; ++i)
    c.rows.push_back({{"scheme", m.schemes[i]}, {"family", FamilyOf(m, i)},
                      {"bits_per_weight", Num(m.Value("bits_per_weight", i))}, {"ppl", Num(m.Value("ppl", i))}});
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "line"}, {"point", true}};
  c.spec["encoding"] = {{"x", {{"field", "bits_per_weight"}, {"type", "quantitative"}, {"title", "bits per weight"}}},
                        {"y", {{"field", "ppl"}, {"type", "quantitative"}, {"scale", {{"type", "log"}}}, {"title", "perplexity"}}},
                        {"color", {{"field", "family"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "ppl"}, {"format", ".3f"}},
                                                 {{"field", "bits_per_weight"}, {"format", ".2f"}}})}};
  return c;
}

// Accuracy degradation across bit-widths, per task and averaged.
Chart AccuracyVsBpwChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"accuracy_vs_bpw", "Accuracy change vs bits per weight",
          "Δaccuracy against the baseline, per task and over all tasks (the degradation curve across bit-widths).",
          Json::array(), {}};
  for (size_t i = 1; i < n; ++i) {
    const auto* cand = CandidateOf(m, m.schemes[i]);
    c.rows.push_back({{"scheme", m.schemes[i]}, {"task", "all tasks"}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))},
                      {"delta_accuracy", Num(m.Value("delta_accuracy", i))}});
    if (cand)
      for (const auto& [t, s] : cand->tasks)
        c.rows.push_back({{"scheme", m.schemes[i]}, {"task", t}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))},
                          {"delta_accuracy", Num(s.accuracy - s.accuracy_base)}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "line"}, {"point", true}};
  c.spec["encoding"] = {{"x", {{"field", "bits_per_weight"}, {"type", "quantitative"}, {"title", "bits per weight"}}},
                        {"y", {{"field", "delta_accuracy"}, {"type", "quantitative"}, {"axis", {{"format", "+.0%"}}}, {"title", "Δ accuracy"}}},
                        {"color", {{"field", "task"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "task"}}, {{"field", "delta_accuracy"}, {"format", "+.2%"}}})}};
  return c;
}

// Flips, stacked.
Chart FlipsChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"flips", "Flips per scheme", "Share of answers that changed correctness: correct→incorrect and incorrect→correct.",
          Json::array(), {}};
  for (size_t i = 1; i < n; ++i) {
    c.rows.push_back({{"scheme", m.schemes[i]}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))},
                      {"direction", "correct→incorrect"}, {"rate", Num(m.Value("flips_correct_to_incorrect", i))}});
    c.rows.push_back({{"scheme", m.schemes[i]}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))},
                      {"direction", "incorrect→correct"}, {"rate", Num(m.Value("flips_incorrect_to_correct", i))}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = "bar";
  c.spec["encoding"] = {{"x", {{"field", "scheme"}, {"type", "nominal"}, {"sort", {{"field", "bits_per_weight"}, {"order", "descending"}}}}},
                        {"y", {{"field", "rate"}, {"type", "quantitative"}, {"stack", true}, {"axis", {{"format", ".0%"}}}, {"title", "share of samples"}}},
                        {"color", {{"field", "direction"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "direction"}},
                                                 {{"field", "rate"}, {"format", ".2%"}, {"title", "share of samples"}}})}};
  return c;
}

// Generative tasks: the flips of free-form answers, per task.
std::optional<Chart> GenerationFlipsChart(const MetricsFileData& m) {
  if (m.generation_names.empty()) return std::nullopt;
  Chart c{"generation_flips", "Flips of generated answers",
          "Greedy continuations scored by their answers (exact match or extraction): the share of samples whose "
          "answer turned correct→incorrect and incorrect→correct against the baseline's, per generative task.",
          Json::array(), {}};
  for (const MetricsCandidateData& cand : m.candidates)
    for (const auto& [task, g] : cand.generations) {
      c.rows.push_back({{"scheme", cand.scheme}, {"task", task}, {"direction", "correct→incorrect"},
                        {"rate", Num(g.flips_c2i)}, {"agreement", Num(g.mean_token_agreement)}});
      c.rows.push_back({{"scheme", cand.scheme}, {"task", task}, {"direction", "incorrect→correct"},
                        {"rate", Num(g.flips_i2c)}, {"agreement", Num(g.mean_token_agreement)}});
    }
  c.spec = Base(c.title);
  c.spec["mark"] = "bar";
  c.spec["encoding"] = {{"x", {{"field", "scheme"}, {"type", "nominal"}, {"sort", nullptr}}},
                        {"y", {{"field", "rate"}, {"type", "quantitative"}, {"stack", true}, {"axis", {{"format", ".0%"}}}, {"title", "share of samples"}}},
                        {"color", {{"field", "direction"}, {"type", "nominal"}}},
                        {"column", {{"field", "task"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "task"}}, {{"field", "direction"}},
                                                 {{"field", "rate"}, {"format", ".2%"}, {"title", "share of samples"}},
                                                 {{"field", "agreement"}, {"format", ".1%"}, {"title", "token agreement"}}})}};
  return c;
}

// Decode speed against generative accuracy, as the runs timed their decode
// steps (only where every run of every generative task did).
std::optional<Chart> DecodeSpeedChart(const MetricsFileData& m) {
  if (m.generation_names.empty() || m.candidates.empty()) return std::nullopt;
  Chart c{"decode_speed", "Generation: accuracy vs ms per token",
          "Mean time per decoded token as each sequence saw it in the run (its batch of up to 32 sequences), against "
          "the accuracy of the generated answers; one point per scheme and generative task.",
          Json::array(), {}};
  for (const std::string& task : m.generation_names) {
    const auto& first = m.candidates[0].generations.find(task);
    if (first == m.candidates[0].generations.end()) continue;
    const MetricsGenerationSummary& b = first->second;
    if (!(b.ms_per_token_base > 0)) return std::nullopt;
    c.rows.push_back({{"scheme", m.baseline}, {"task", task}, {"ms_per_token", b.ms_per_token_base},
                      {"accuracy", Num(b.accuracy_base)}});
    for (const MetricsCandidateData& cand : m.candidates) {
      auto it = cand.generations.find(task);
      if (it == cand.generations.end() || !(it->second.ms_per_token > 0)) return std::nullopt;
      c.rows.push_back({{"scheme", cand.scheme}, {"task", task}, {"ms_per_token", it->second.ms_per_token},
                        {"accuracy", Num(it->second.accuracy)}});
    }
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "point"}, {"filled", true}, {"size", 80}};
  c.spec["encoding"] = {{"x", {{"field", "ms_per_token"}, {"type", "quantitative"}, {"title", "ms per token"}}},
                        {"y", {{"field", "accuracy"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}}}},
                        {"color", {{"field", "scheme"}, {"type", "nominal"}}},
                        {"shape", {{"field", "task"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "task"}},
                                                 {{"field", "ms_per_token"}, {"format", ".2f"}},
                                                 {{"field", "accuracy"}, {"format", ".1%"}}})}};
  return c;
}

// KL vs bits per weight.
Chart KlVsBpwChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"kl_vs_bpw", "KL divergence vs bits per weight",
          "Answer-level KL (softmax over the choices) and token-level KL on the corpus (exact from full rows; "
          "from top-K it is a lower bound).", Json::array(), {}};
  for (size_t i = 1; i < n; ++i) {
    c.rows.push_back({{"scheme", m.schemes[i]}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))}, {"kind", "answer KL"},
                      {"kl", Num(m.Value("answer_kl_mean", i))}});
    c.rows.push_back({{"scheme", m.schemes[i]}, {"bits_per_weight", Num(m.Value("bits_per_weight", i))}, {"kind", "token KL"},
                      {"kl", Num(m.Value("token_kl_mean", i))}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "point"}, {"filled", true}, {"size", 80}};
  c.spec["encoding"] = {{"x", {{"field", "bits_per_weight"}, {"type", "quantitative"}, {"title", "bits per weight"}}},
                        {"y", {{"field", "kl"}, {"type", "quantitative"}, {"scale", {{"type", "symlog"}, {"constant", 0.001}}}, {"title", "mean KL (nats)"}}},
                        {"color", {{"field", "kind"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "kind"}},
                                                 {{"field", "kl"}, {"format", ".2e"}, {"title", "KL (nats)"}}})}};
  return c;
}

// Layer sensitivity: runs that quantize one layer of a dense model.
std::optional<Chart> LayerSensitivityChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"layer_sensitivity", "Layer sensitivity",
          "KL against the baseline when only that layer (and projection type) is quantized: token KL on the "
          "corpus where there is one, else answer KL. Darker is more sensitive.",
          Json::array(), {}};
  const bool token = !m.corpus_names.empty();
  for (size_t i = 1; i < n; ++i) {
    const auto* cand = CandidateOf(m, m.schemes[i]);
    if (!cand) continue;
    const std::optional<SensitivityCell> cell = SensitivityCellOf(cand->scheme_json);
    if (!cell) continue;
    c.rows.push_back({{"scheme", m.schemes[i]}, {"layer", cell->layer}, {"projection", cell->projection},
                      {"format", cell->format}, {"kl", Num(m.Value(token ? "token_kl_mean" : "answer_kl_mean", i))},
                      {"delta_accuracy", Num(m.Value("delta_accuracy", i))}});
  }
  if (c.rows.empty()) return std::nullopt;
  Json order = Json::array();
  for (const std::string& p : ProjectionTypes()) order.push_back(p);
  order.push_back("all");
  c.spec = Base(c.title);
  c.spec["mark"] = "rect";
  c.spec["encoding"] = {
      {"x", {{"field", "projection"}, {"type", "nominal"},
             {"sort", order}}},
      {"y", {{"field", "layer"}, {"type", "ordinal"}}},
      {"color", {{"field", "kl"}, {"type", "quantitative"}, {"scale", {{"scheme", "reds"}}},
                 {"title", token ? "token KL" : "answer KL"}}},
      {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "format"}}, {{"field", "kl"}, {"format", ".2e"}},
                               {{"field", "delta_accuracy"}, {"format", "+.2%"}}})}};
  return c;
}

// Δacc vs flips with CIs.
Chart DaccVsFlipsChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"dacc_vs_flips", "Accuracy change vs flips",
          "Small Δaccuracy can hide many flips (Dutta et al., 2024). Bars: 95% paired bootstrap intervals.", Json::array(), {}};
  for (size_t i = 1; i < n; ++i)
    c.rows.push_back({{"scheme", m.schemes[i]}, {"flip_rate", Num(m.FlipRate(i))},
                      {"flip_lo", Num(m.Value("flip_rate_lo", i))}, {"flip_hi", Num(m.Value("flip_rate_hi", i))},
                      {"delta_accuracy", Num(m.Value("delta_accuracy", i))}, {"delta_lo", Num(m.Value("delta_accuracy_lo", i))},
                      {"delta_hi", Num(m.Value("delta_accuracy_hi", i))}});
  c.spec = Base(c.title);
  const Json x = {{"field", "flip_rate"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}}, {"title", "flip rate"}};
  const Json y = {{"field", "delta_accuracy"}, {"type", "quantitative"}, {"axis", {{"format", "+.0%"}}}, {"title", "Δ accuracy"}};
  c.spec["layer"] = Json::array(
      {{{"mark", "rule"}, {"encoding", {{"x", x}, {"y", {{"field", "delta_lo"}, {"type", "quantitative"}}}, {"y2", {{"field", "delta_hi"}}}}}},
       {{"mark", "rule"}, {"encoding", {{"y", y}, {"x", {{"field", "flip_lo"}, {"type", "quantitative"}}}, {"x2", {{"field", "flip_hi"}}}}}},
       {{"mark", {{"type", "point"}, {"filled", true}, {"size", 80}}},
        {"encoding", {{"x", x}, {"y", y}, {"color", {{"field", "scheme"}, {"type", "nominal"}}}, {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "flip_rate"}, {"format", ".1%"}},
                                                               {{"field", "delta_accuracy"}, {"format", "+.1%"}},
                                                               {{"field", "delta_lo"}, {"format", "+.1%"}},
                                                               {{"field", "delta_hi"}, {"format", "+.1%"}}})}}}}});
  return c;
}

// Pareto fronts against size.
Chart ParetoSizeChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"pareto_size", "Pareto front: accuracy and flips vs size",
          "Filled points are on the front (no scheme is both smaller and better).",
          Json::array(), {}};
  std::vector<double> size, acc, agree;
  for (size_t i = 0; i < n; ++i) {
    size.push_back(Num(m.Value("size_gb", i)));
    acc.push_back(Num(m.Value("accuracy", i)));
    agree.push_back(1 - Num(m.Value("flips_correct_to_incorrect", i)) - Num(m.Value("flips_incorrect_to_correct", i)));
  }
  const auto f1 = ParetoFront(size, acc), f2 = ParetoFront(size, agree);
  for (size_t i = 0; i < n; ++i) {
    c.rows.push_back({{"scheme", m.schemes[i]}, {"size_mb", size[i] * 1e3}, {"metric", "accuracy"}, {"value", acc[i]}, {"front", bool(f1[i])}});
    c.rows.push_back({{"scheme", m.schemes[i]}, {"size_mb", size[i] * 1e3}, {"metric", "1 - flip rate"}, {"value", agree[i]}, {"front", bool(f2[i])}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "point"}, {"size", 90}};
  c.spec["encoding"] = {{"x", {{"field", "size_mb"}, {"type", "quantitative"}, {"title", "size (MB)"}}},
                        {"y", {{"field", "value"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}}}},
                        {"color", {{"field", "metric"}, {"type", "nominal"}}},
                        {"fill", {{"field", "front"}, {"type", "nominal"}, {"scale", {{"range", Json::array({"transparent", "#333"})}}}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "metric"}},
                                                 {{"field", "value"}, {"format", ".1%"}},
                                                 {{"field", "size_mb"}, {"format", ".3s"}, {"title", "size (MB)"}},
                                                 {{"field", "front"}}})}};
  return c;
}

// Accuracy against a measured resource (throughput: more is better; memory:
// less is), the front filled. Only where every run measured it.
std::optional<Chart> ResourceChart(const MetricsFileData& m, const std::string& id, const std::string& title,
                                   const std::string& column, const std::string& axis, bool more_is_better) {
  if (!m.AllMeasured(column)) return std::nullopt;
  const size_t n = m.schemes.size();
  Chart c{id, title,
          "As each run measured it on its own device (loading excluded). Filled points are on the front: no scheme is "
          "both better here and more accurate.",
          Json::array(), {}};
  std::vector<double> x, acc;
  for (size_t i = 0; i < n; ++i) {
    x.push_back(more_is_better ? -m.Value(column, i) : m.Value(column, i));
    acc.push_back(Num(m.Value("accuracy", i)));
  }
  const auto front = ParetoFront(x, acc);
  // A speed that the device does not run natively says so (speed_caveat.h),
  // in a column of its own where any does.
  std::vector<std::string> notes(n);
  bool any_note = false;
  for (size_t i = 0; i < n && more_is_better; ++i) {
    notes[i] = SpeedCaveat(m, i);
    any_note = any_note || !notes[i].empty();
  }
  for (size_t i = 0; i < n; ++i) {
    c.rows.push_back({{"scheme", m.schemes[i]}, {"family", FamilyOf(m, i)}, {column, Num(m.Value(column, i))},
                      {"accuracy", acc[i]}, {"front", bool(front[i])}});
    if (any_note) c.rows.back()["note"] = notes[i];
  }
  if (any_note)
    c.caption += " On Hopper (sm_90) the schemes with 4-bit activations run them through the int8 path: not native "
                 "there (see each point's note).";
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "point"}, {"size", 90}};
  c.spec["encoding"] = {{"x", {{"field", column}, {"type", "quantitative"}, {"title", axis}}},
                        {"y", {{"field", "accuracy"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}}}},
                        {"color", {{"field", "family"}, {"type", "nominal"}}},
                        {"fill", {{"field", "front"}, {"type", "nominal"}, {"scale", {{"range", Json::array({"transparent", "#333"})}}}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", column}, {"format", ".3s"}, {"title", axis}},
                                                 {{"field", "accuracy"}, {"format", ".1%"}}})}};
  if (any_note) c.spec["encoding"]["tooltip"].push_back({{"field", "note"}});
  return c;
}

// Top-margin bins vs flip probability.
Chart TopMarginChart(const MetricsFileData& m) {
  Chart c{"top_margin", "Flip probability by baseline margin",
          "Samples the baseline answered with a small margin (p1 − p2 over the choices) flip more often.", Json::array(), {}};
  for (const auto& cand : m.candidates)
    for (size_t b = 0; b < cand.bin_lo.size(); ++b)
      if (cand.bin_count[b] > 0)
        c.rows.push_back({{"scheme", cand.scheme}, {"margin", 0.5 * (cand.bin_lo[b] + cand.bin_hi[b])}, {"count", cand.bin_count[b]},
                          {"flip_probability", Num(cand.bin_flip_probability[b])}});
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "line"}, {"point", true}};
  c.spec["encoding"] = {{"x", {{"field", "margin"}, {"type", "quantitative"}, {"title", "baseline top margin"}}},
                        {"y", {{"field", "flip_probability"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}},
                               {"title", "flip probability"}}},
                        {"color", {{"field", "scheme"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "margin"}, {"format", ".2f"}},
                                                 {{"field", "flip_probability"}, {"format", ".1%"}}, {{"field", "count"}}})}};
  return c;
}

// Confidence distribution: a histogram of the top-1 probability per token of `corpus`.
Chart ConfidenceChart(const MetricsFileData& m, const std::string& corpus) {
  Chart c{"confidence", "Confidence distribution (" + corpus + ")", "Histogram of the top-1 probability per token.",
          Json::array(), {}};
  for (size_t k = 0; k < m.candidates.size(); ++k) {
    const auto& cand = m.candidates[k];
    auto it = cand.corpora.find(corpus);
    if (it == cand.corpora.end()) continue;
    const auto& d = it->second;
    if (k == 0)
      for (size_t b = 0; b < d.confidence_base.size(); ++b)
        c.rows.push_back({{"scheme", m.baseline}, {"confidence", (b + 0.5) / d.confidence_base.size()}, {"fraction", Num(d.confidence_base[b])}});
    for (size_t b = 0; b < d.confidence.size(); ++b)
      c.rows.push_back({{"scheme", cand.scheme}, {"confidence", (b + 0.5) / d.confidence.size()}, {"fraction", Num(d.confidence[b])}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "line"}, {"point", true}};
  c.spec["encoding"] = {{"x", {{"field", "confidence"}, {"type", "quantitative"}, {"title", "top-1 probability"}}},
                        {"y", {{"field", "fraction"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}},
                               {"title", "share of tokens"}}},
                        {"color", {{"field", "scheme"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "confidence"}, {"format", ".2f"}},
                                                 {{"field", "fraction"}, {"format", ".2%"}}})}};
  return c;
}

// The distribution of token KL per scheme on `corpus`: the share of tokens
// whose KL is at most x, at 200 evenly spaced quantiles, on a log axis (the
// tail is what differs between schemes of one mean); both directions where
// the runs hold the exact statistics.
Chart TokenKlChart(const MetricsFileData& m, const std::string& corpus) {
  Chart c{"token_kl_distribution", "Token KL distribution (" + corpus + ")",
          "Share of tokens whose KL divergence from the baseline is at most x (a cumulative distribution; "
          "exact statistics give both directions, a top-K lower bound only KL(base‖q)).",
          Json::array(), {}};
  for (const auto& cand : m.candidates) {
    auto it = cand.corpora.find(corpus);
    if (it == cand.corpora.end()) continue;
    const auto& d = it->second;
    const std::pair<const char*, const std::vector<double>*> directions[] = {{"KL(base‖q)", &d.token_kl},
                                                                             {"KL(q‖base)", &d.token_kl_reverse}};
    for (const auto& [direction, values] : directions) {
      if (values->empty()) continue;
      std::vector<double> sorted = *values;
      std::sort(sorted.begin(), sorted.end());
      constexpr int kPoints = 200;
      for (int q = 1; q <= kPoints; ++q) {
        const size_t at = std::min(sorted.size() - 1, (sorted.size() * q) / kPoints);
        // A log axis shows no 0: tokens the scheme left unchanged sit at 1e-12.
        c.rows.push_back({{"scheme", cand.scheme + (cand.noise_floor ? " (noise floor)" : "")},
                          {"direction", direction}, {"kl", std::max(sorted[at], 1e-12)},
                          {"share", static_cast<double>(q) / kPoints}, {"source", d.kl_source}});
      }
    }
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "line"}};
  c.spec["encoding"] = {{"x", {{"field", "kl"}, {"type", "quantitative"}, {"scale", {{"type", "log"}}},
                               {"title", "token KL (nats)"}}},
                        {"y", {{"field", "share"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}},
                               {"title", "share of tokens with KL ≤ x"}}},
                        {"color", {{"field", "scheme"}, {"type", "nominal"}}},
                        {"strokeDash", {{"field", "direction"}, {"type", "nominal"}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "direction"}},
                                                 {{"field", "kl"}, {"format", ".2e"}},
                                                 {{"field", "share"}, {"format", ".1%"}}, {{"field", "source"}}})}};
  return c;
}

// Δp of the actual next token of `corpus`, per scheme.
Chart DpChart(const MetricsFileData& m, const std::string& corpus) {
  Chart c{"dp_distribution", "Δp of the actual next token (" + corpus + ")",
          "p_q − p_base of the token that came next, per token (up to 2000 tokens per scheme, evenly sampled).",
          Json::array(), {}};
  for (const auto& cand : m.candidates) {
    auto it = cand.corpora.find(corpus);
    if (it == cand.corpora.end()) continue;
    const auto& d = it->second;
    const size_t step = std::max<size_t>(1, d.dp.size() / 2000);
    for (size_t t = 0; t < d.dp.size(); t += step) c.rows.push_back({{"scheme", cand.scheme}, {"dp", Num(d.dp[t])}});
  }
  c.spec = Base(c.title);
  c.spec["mark"] = {{"type", "boxplot"}, {"extent", "min-max"}};
  c.spec["encoding"] = {{"x", {{"field", "scheme"}, {"type", "nominal"}}},
                        {"y", {{"field", "dp"}, {"type", "quantitative"}, {"title", "Δp (probability)"}}}};
  return c;
}

// Normalized multi-metric comparison.
Chart NormalizedChart(const MetricsFileData& m) {
  const size_t n = m.schemes.size();
  Chart c{"normalized", "All metrics, normalized (1 = best in the sweep)",
          "Each metric scaled to [0, 1] across the schemes, 1 the best value; size and bits per weight count smaller as better.",
          Json::array(), {}};
  struct Metric { const char* column; const char* label; bool higher_better; };
  const Metric metrics[] = {{"accuracy", "accuracy", true}, {"answer_kl_mean", "answer KL", false},
                            {"token_kl_mean", "token KL", false}, {"ppl", "perplexity", false},
                            {"flips_correct_to_incorrect", "flips c→i", false}, {"size_gb", "size", false}};
  for (const Metric& mt : metrics) {
    auto it = m.summary.find(mt.column);
    if (it == m.summary.end()) continue;
    double lo = INFINITY, hi = -INFINITY;
    for (double v : it->second) if (std::isfinite(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
    for (size_t i = 0; i < n; ++i) {
      const double v = it->second[i];
      double score = hi > lo ? (v - lo) / (hi - lo) : 1.0;
      if (!mt.higher_better) score = 1 - score;
      c.rows.push_back({{"scheme", m.schemes[i]}, {"metric", mt.label}, {"score", Num(score)}, {"value", Num(v)}});
    }
  }
  c.spec = Base(c.title);
  c.spec["mark"] = "rect";
  c.spec["encoding"] = {{"x", {{"field", "metric"}, {"type", "nominal"}}},
                        {"y", {{"field", "scheme"}, {"type", "nominal"}, {"sort", nullptr}}},
                        {"color", {{"field", "score"}, {"type", "quantitative"}, {"scale", {{"domain", Json::array({0, 1})}}}}},
                        {"tooltip", Json::array({{{"field", "scheme"}}, {{"field", "metric"}},
                                                 {{"field", "value"}, {"format", ".3g"}},
                                                 {{"field", "score"}, {"format", ".2f"}, {"title", "score (1 = best)"}}})}};
  return c;
}

std::vector<Chart> Charts(const MetricsFileData& m) {
  std::vector<Chart> charts = {PplVsBpwChart(m), AccuracyVsBpwChart(m), FlipsChart(m)};
  if (std::optional<Chart> c = GenerationFlipsChart(m)) charts.push_back(*c);
  charts.push_back(KlVsBpwChart(m));
  if (std::optional<Chart> c = LayerSensitivityChart(m)) charts.push_back(*c);
  charts.push_back(DaccVsFlipsChart(m));
  charts.push_back(ParetoSizeChart(m));
  if (auto c = ResourceChart(m, "speed_vs_accuracy", "Accuracy vs scoring speed", "samples_per_s", "samples / s", true))
    charts.push_back(*c);
  if (std::optional<Chart> c = DecodeSpeedChart(m)) charts.push_back(*c);
  if (auto c = ResourceChart(m, "memory_vs_accuracy", "Accuracy vs device memory of the weights", "weight_gib",
                             "weights on the device (GiB, one rank)", false))
    charts.push_back(*c);
  charts.push_back(TopMarginChart(m));
  if (!m.corpus_names.empty()) {
    charts.push_back(ConfidenceChart(m, m.corpus_names[0]));
    charts.push_back(TokenKlChart(m, m.corpus_names[0]));
    charts.push_back(DpChart(m, m.corpus_names[0]));
  }
  charts.push_back(NormalizedChart(m));
  for (Chart& c : charts) c.spec["data"] = {{"values", c.rows}};
  return charts;
}

}  // namespace

std::vector<std::string> Recommend(const MetricsFileData& m) {
  std::vector<std::string> out;
  const size_t n = m.schemes.size();
  int quality = -1, memory = -1;
  for (size_t i = 1; i < n; ++i) {
    if (IsMeasurementRun(m, i)) continue;  // a measurement, not a candidate to ship
    const bool not_worse = m.Value("delta_accuracy_hi", i) >= 0 && m.Value("mcnemar_p", i) >= 0.05;
    if (not_worse && (quality < 0 || m.Value("answer_kl_mean", i) < m.Value("answer_kl_mean", quality))) quality = static_cast<int>(i);
    if (m.Value("delta_accuracy", i) >= -0.01 && (memory < 0 || m.Value("size_gb", i) < m.Value("size_gb", memory)))
      memory = static_cast<int>(i);
  }
  auto describe = [&](int i) {
    return absl::StrFormat("%s (%.2f bits/weight, %s, Δacc %s %s, flips %s, answer KL %s)", m.schemes[i],
                           m.Value("bits_per_weight", i), ReadableBytes(m.Value("size_gb", i) * 1e9),
                           ReadableDelta(m.Value("delta_accuracy", i)),
                           ReadableInterval(m.Value("delta_accuracy_lo", i), m.Value("delta_accuracy_hi", i)),
                           ReadablePercent(m.FlipRate(i)),
                           ReadableKl(m.Value("answer_kl_mean", i)));
  };
  out.push_back(quality >= 0 ? "Quality first: " + describe(quality) +
                                   " — the closest to the baseline (lowest answer KL) among schemes not significantly "
                                   "worse (Δacc CI reaching 0, McNemar p ≥ 0.05)."
                             : "Quality first: every scheme is significantly worse than the baseline; keep " + m.baseline + ".");
  out.push_back(memory >= 0 ? "Memory first: " + describe(memory) + " — the smallest within 1 point of the baseline's accuracy."
                            : "Memory first: no scheme stays within 1 point of the baseline's accuracy.");
  if (m.AllMeasured("tokens_per_s")) {
    // The fastest within 1 point of the baseline's accuracy, as its run measured it.
    int speed = -1;
    for (size_t i = 1; i < n; ++i)
      if (!IsMeasurementRun(m, i) && m.Value("delta_accuracy", i) >= -0.01 &&
          (speed < 0 || m.Value("tokens_per_s", i) > m.Value("tokens_per_s", speed)))
        speed = static_cast<int>(i);
    std::string line = speed >= 0 ? absl::StrFormat("Speed first: %s — %.0f tokens/s, %.2fx the baseline's %.0f, the "
                                                    "fastest within 1 point of the baseline's accuracy (as each run "
                                                    "measured it).",
                                                    describe(speed), m.Value("tokens_per_s", speed),
                                                    m.Value("tokens_per_s", speed) / m.Value("tokens_per_s", 0),
                                                    m.Value("tokens_per_s", 0))
                                  : "Speed first: no scheme stays within 1 point of the baseline's accuracy.";
    if (speed >= 0)
      if (const std::string caveat = SpeedCaveat(m, speed); !caveat.empty()) line += " Its speed is " + caveat + ".";
    out.push_back(line);
  } else {
    out.push_back("Speed first: not measured by every run of this sweep (runs made before qsweep measured it); among "
                  "the schemes above, fewer bits per weight move fewer bytes per token.");
  }
  return out;
}

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: missing (run tools/setup.sh, which installs the report's npm packages)", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string SchemeFamily(const std::string& s) {
  if (s == "fp32" || s == "bf16" || s == "fp16") return "baseline";
  // A sweep config's named entry (overrides: a partially quantized model).
  if (!ParseScheme(s).ok()) return "partial";
  if (s.rfind("nf4", 0) == 0) return "nf4";
  if (s.rfind("fp4", 0) == 0) return "fp4";
  if (s.rfind("fp8", 0) == 0) return "fp8";
  if (s.rfind("t2", 0) == 0) return "ternary";
  if (s.rfind("w1a16", 0) == 0) return "binary";
  if (s.find("a16") == std::string::npos) return "int-act";
  return s.find("-asym") != std::string::npos ? "int-asym" : "int";
}

absl::StatusOr<std::string> WriteDashboard(const MetricsFileData& m, const std::string& dir, const DashboardOptions& o) {
  std::string libs;
  for (const char* f : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js"}) {
    QSWEEP_ASSIGN_OR_RETURN(std::string js, ReadFile((fs::path(o.assets_dir) / f).string()));
    // A literal "</script" inside the inlined code would end the tag early.
    for (size_t p = js.find("</script"); p != std::string::npos; p = js.find("</script", p)) js.replace(p, 2, "<\\/");
    libs += "<script>" + js + "</script>\n";
  }
  const std::vector<Chart> charts = Charts(m);
  fs::create_directories(fs::path(dir) / "data");
  Json specs = Json::object();
  std::string body;
  for (size_t i = 0; i < charts.size(); ++i) {
    const Chart& c = charts[i];
    std::ofstream(fs::path(dir) / "data" / (c.id + ".csv")) << Csv(c.rows);
    specs[c.id] = c.spec;
    body += absl::StrFormat(
        "<section><h2>%s</h2><p>%s</p><div class=chart id=\"chart-%s\"></div>"
        "<details><summary>data (<a href=\"data/%s.csv\">%s.csv</a>)</summary>%s</details></section>\n",
        HtmlEscape(c.title), HtmlEscape(c.caption), c.id, c.id, c.id, HtmlTable(c.rows));
  }
  if (std::none_of(charts.begin(), charts.end(), [](const Chart& c) { return c.id == "layer_sensitivity"; }))
    body += "<section><h2>Layer sensitivity</h2><p>Not in this sweep: it needs named scheme entries that quantize "
            "one layer (and projection type) of the dense model at a time (docs/schemes.md).</p></section>\n";
  // Summary table and recommendations.
  Json summary = Json::array();
  for (size_t i = 0; i < m.schemes.size(); ++i) {
    Json row = {{"scheme", m.schemes[i]}};
    for (const char* col : {"bits_per_weight", "size_gb", "accuracy", "delta_accuracy", "flips_correct_to_incorrect",
                            "flips_incorrect_to_correct", "mcnemar_p", "answer_kl_mean", "ppl", "token_kl_mean"})
      row[col] = Num(m.Value(col, i));
    summary.push_back(row);
  }
  std::ofstream(fs::path(dir) / "data" / "summary.csv") << Csv(summary);
  const std::string reading = DecisionSection(m) + SummarySection(m) + MixedPrecisionSection(m) + TaskSection(m);
  std::ofstream(fs::path(dir) / "specs.json") << specs.dump(1);
  const std::string html = absl::StrFormat(R"(<!doctype html>
<html><head><meta charset="utf-8"><title>qsweep: %s</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}section{margin:2em 0}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td.name{text-align:left}tr.base{background:#eef3fb;font-weight:bold}p.legend{font-size:11px;color:#555}
p.verdict{font-weight:bold}pre{white-space:pre-wrap}#errors{color:#b00}</style>
%s</head><body>
<h1>Quantization sweep: %s</h1>
<p>Baseline %s. Every number comes from the metrics file; the CSV behind each chart (and data/summary.csv, at
full precision) is in data/.</p>
%s
%s
<div id="errors"></div>
<script>
const specs = %s;
const errors = [];
window.addEventListener('error', e => errors.push(String(e.message)));
const origError = console.error;
console.error = (...a) => { errors.push(a.join(' ')); origError(...a); };
Promise.allSettled(Object.keys(specs).map(id =>
  vegaEmbed('#chart-' + id, specs[id], {renderer: 'svg', actions: false})
    .catch(e => { errors.push(id + ': ' + e); throw e; })))
  .then(results => {
    document.body.dataset.rendered = results.filter(r => r.status === 'fulfilled').length;
    document.body.dataset.charts = Object.keys(specs).length;
    document.getElementById('errors').textContent = errors.join('\n');
    document.body.dataset.errors = errors.length;
  });
</script></body></html>
)",
                                           HtmlEscape(m.model), libs, HtmlEscape(m.model), HtmlEscape(m.baseline), reading, body,
                                           ScriptJson(specs));
  const std::string page = (fs::path(dir) / "index.html").string();
  std::ofstream(page) << html;
  return page;
}

}  // namespace qsweep
