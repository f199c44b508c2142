#include "report/summary_table.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "report/readable.h"

namespace qsweep {

void AddPerformance(const RunPerformance& p, SummaryRow& r) {
  r.tokens_per_s = p.tokens_per_s();
  r.samples_per_s = p.samples_per_s();
  r.weight_gib = p.measured() && p.weight_bytes >= 0 ? p.weight_bytes / 1073741824.0 : 0;
  r.device_gib = p.measured() && p.device_bytes_in_use >= 0 ? p.device_bytes_in_use / 1073741824.0 : 0;
  r.device = p.measured() ? p.device : "";
}

std::vector<SummaryRow> SummaryRows(const SweepMetrics& m) {
  std::vector<SummaryRow> rows;
  SummaryRow base;
  base.scheme = m.baseline_scheme;
  base.bits_per_weight = m.baseline_bits_per_weight;
  base.size_gb = m.baseline_bytes / 1e9;
  if (!m.candidates.empty()) {
    const auto& c = m.candidates[0];
    base.accuracy = c.pooled.acc.base.accuracy;
    if (!c.corpora.empty()) base.ppl = c.corpora[0].comparison.perplexity.base.ppl;
  }
  AddPerformance(m.baseline_performance, base);
  rows.push_back(base);
  for (const CandidateMetrics& c : m.candidates) {
    SummaryRow r;
    r.scheme = c.scheme;
    r.noise_floor = c.noise_floor;
    AddPerformance(c.performance, r);
    r.bits_per_weight = c.bits_per_weight;
    r.size_gb = c.bytes / 1e9;
    const auto& acc = c.pooled.acc;
    r.accuracy = acc.candidate.accuracy;
    r.delta_accuracy = acc.accuracy.delta;
    r.delta_lo = acc.intervals.delta_accuracy.lo;
    r.delta_hi = acc.intervals.delta_accuracy.hi;
    r.flips_c2i = acc.flips.correct_to_incorrect_rate;
    r.flips_i2c = acc.flips.incorrect_to_correct_rate;
    r.flip_lo = acc.intervals.flip_rate.lo;
    r.flip_hi = acc.intervals.flip_rate.hi;
    r.mcnemar_p = acc.mcnemar.p_value;
    r.answer_kl_mean = c.pooled.answer_kl.summary.mean;
    r.answer_kl_p95 = c.pooled.answer_kl.summary.p95;
    if (!c.corpora.empty()) {
      const auto& t = c.corpora[0].comparison;
      r.ppl = t.perplexity.candidate.ppl;
      r.ppl_ratio = t.perplexity.ratio;
      r.token_kl_mean = t.kl.mean;
      r.token_kl_is_bound = t.kl.is_bound;
      r.top1_same = t.top1.fraction;
    }
    rows.push_back(r);
  }
  return rows;
}

namespace {

// `text` padded to `width` columns (UTF-8: one column per code point).
std::string Pad(const std::string& text, size_t width, bool left) {
  size_t columns = 0;
  for (unsigned char c : text) columns += (c & 0xC0) != 0x80;
  const std::string fill(width > columns ? width - columns : 0, ' ');
  return left ? text + fill : fill + text;
}

}  // namespace

// Readable units (report/readable.h); the CSV keeps full precision.
std::string FormatSummaryTable(const std::vector<SummaryRow>& rows) {
  const std::vector<std::pair<const char*, size_t>> head = {
      {"scheme", 18}, {"bpw", 6},   {"size", 9},    {"acc", 7},     {"Δacc [95% CI]", 25}, {"c→i", 6},
      {"i→c", 6},     {"McNemar p", 9}, {"ans KL", 8}, {"PPL", 8}, {"tok KL", 9}};
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? " " : "") + Pad(cells[i], head[i].second, i == 0);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& [t, w] : head) titles.push_back(t);
  std::string s = line(titles);
  for (size_t i = 0; i < rows.size(); ++i) {
    const SummaryRow& r = rows[i];
    const bool base = i == 0;
    s += line({base ? r.scheme + " (base)" : r.noise_floor ? r.scheme + " (floor)" : r.scheme, ReadableFixed(r.bits_per_weight, 2), ReadableBytes(r.size_gb * 1e9),
               ReadablePercent(r.accuracy),
               base ? "" : ReadableDelta(r.delta_accuracy) + " " + ReadableInterval(r.delta_lo, r.delta_hi),
               base ? "" : ReadablePercent(r.flips_c2i), base ? "" : ReadablePercent(r.flips_i2c),
               base ? "" : ReadablePValue(r.mcnemar_p), base ? "" : ReadableKl(r.answer_kl_mean),
               r.ppl > 0 ? ReadableFixed(r.ppl, 3) : "",
               base || !(r.ppl > 0) ? "" : (r.token_kl_is_bound ? "≥" : "") + ReadableKl(r.token_kl_mean)});
  }
  return s;
}

absl::Status WriteSummaryCsv(const std::string& path, const std::vector<SummaryRow>& rows) {
  std::ofstream out(path);
  if (!out) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", path));
  out << "scheme,bits_per_weight,size_gb,accuracy,delta_accuracy,delta_accuracy_lo,delta_accuracy_hi,"
         "flips_correct_to_incorrect,flips_incorrect_to_correct,flip_rate_lo,flip_rate_hi,mcnemar_p,"
         "answer_kl_mean,answer_kl_p95,ppl,ppl_ratio,token_kl_mean,token_kl_is_bound,top1_same,"
         "tokens_per_s,samples_per_s,weight_gib,device_gib\n";
  for (const SummaryRow& r : rows)
    out << absl::StrFormat(
        "%s,%.6f,%.9f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6g,%.8f,%.8f,%.6f,%.6f,%.8f,%d,%.6f,%.1f,%.3f,%.4f,%.4f\n",
        r.scheme, r.bits_per_weight, r.size_gb, r.accuracy, r.delta_accuracy, r.delta_lo, r.delta_hi, r.flips_c2i,
        r.flips_i2c, r.flip_lo, r.flip_hi, r.mcnemar_p, r.answer_kl_mean, r.answer_kl_p95, r.ppl, r.ppl_ratio,
        r.token_kl_mean, r.token_kl_is_bound, r.top1_same, r.tokens_per_s, r.samples_per_s, r.weight_gib, r.device_gib);
  return out.good() ? absl::OkStatus() : absl::InternalError(absl::StrFormat("%s: write failed", path));
}

namespace {

nlohmann::json RuleJson(const metrics::RuleComparison& r) {
  return {{"accuracy_base", r.base.accuracy},
          {"accuracy", r.candidate.accuracy},
          {"delta_accuracy", {{"estimate", r.accuracy.delta}, {"lo", r.intervals.delta_accuracy.lo}, {"hi", r.intervals.delta_accuracy.hi}}},
          {"flips", {{"correct_to_incorrect", r.flips.n_correct_to_incorrect},
                     {"incorrect_to_correct", r.flips.n_incorrect_to_correct},
                     {"rate", r.flips.flip_rate},
                     {"rate_lo", r.intervals.flip_rate.lo},
                     {"rate_hi", r.intervals.flip_rate.hi}}},
          {"mcnemar_p", r.mcnemar.p_value}};
}

nlohmann::json ChoiceJson(const metrics::ChoiceComparison& c) {
  nlohmann::json j = {{"acc", RuleJson(c.acc)},
                      {"answer_kl", {{"mean", c.answer_kl.summary.mean}, {"median", c.answer_kl.summary.median},
                                     {"p95", c.answer_kl.summary.p95}, {"max", c.answer_kl.summary.max}}}};
  if (c.acc_norm) j["acc_norm"] = RuleJson(*c.acc_norm);
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& b : c.margins.bins)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}, {"flip_probability", b.count ? b.flip_probability : 0.0},
                    {"mean_abs_dp", b.count ? b.mean_abs_dp : 0.0}});
  j["top_margin_bins"] = bins;
  return j;
}

}  // namespace

absl::Status WriteMetricsJson(const std::string& path, const SweepMetrics& m) {
  nlohmann::json j;
  j["model"] = m.model;
  j["model_id"] = m.model_id;
  j["requests_id"] = m.requests_id;
  j["baseline"] = {{"scheme", m.baseline_scheme}, {"path", m.baseline_path},
                   {"bits_per_weight", m.baseline_bits_per_weight}, {"bytes", m.baseline_bytes}};
  for (const CandidateMetrics& c : m.candidates) {
    nlohmann::json cj = {{"scheme", c.scheme}, {"path", c.path}, {"bits_per_weight", c.bits_per_weight}, {"bytes", c.bytes}};
    cj["all_tasks"] = ChoiceJson(c.pooled);
    for (const TaskMetrics& t : c.tasks) cj["tasks"][t.task] = ChoiceJson(t.comparison);
    for (const CorpusMetrics& k : c.corpora) {
      const auto& t = k.comparison;
      cj["corpora"][k.corpus] = {
          {"ppl_base", t.perplexity.base.ppl}, {"ppl", t.perplexity.candidate.ppl}, {"ppl_ratio", t.perplexity.ratio},
          {"mean_log_ppl_ratio", t.perplexity.mean_log_ratio},
          {"token_kl", {{"mean", t.kl.mean}, {"median", t.kl.median}, {"p90", t.kl.p90}, {"p99", t.kl.p99},
                        {"p999", t.kl.p999}, {"max", t.kl.max}, {"is_lower_bound", t.kl.is_bound}}},
          {"token_kl_source", metrics::TokenKlSourceName(t.kl_source)},
          {"top1_same", t.top1.fraction},
          {"delta_p", {{"rms", t.dp.rms}, {"p1", t.dp.p1}, {"p5", t.dp.p5}, {"p50", t.dp.p50}, {"p95", t.dp.p95}, {"p99", t.dp.p99}}},
          {"confidence_base", t.base_confidence.fraction},
          {"confidence", t.candidate_confidence.fraction}};
      if (t.exact) {
        nlohmann::json e;
        for (const auto& [key, value] : metrics::ExactStatsFields(*t.exact)) e[key] = value;
        e["n_tokens"] = t.exact->n_tokens;
        cj["corpora"][k.corpus]["exact_token_stats"] = e;
      }
    }
    for (const GenerationMetrics& g : c.generations) {
      const metrics::GenerationSummary& s = g.summary;
      cj["generate"][g.task] = {{"samples", s.samples},
                                {"accuracy_base", s.base_accuracy},
                                {"accuracy", s.cand_accuracy},
                                {"flips", {{"correct_to_incorrect", s.correct_to_incorrect},
                                           {"incorrect_to_correct", s.incorrect_to_correct}}},
                                {"identical", s.identical},
                                {"mean_token_agreement", s.mean_token_agreement},
                                {"mean_first_difference", s.mean_first_difference},
                                {"ttft_ms", g.ttft_ms},
                                {"ttft_ms_base", g.base_ttft_ms},
                                {"ms_per_token", g.ms_per_token},
                                {"ms_per_token_base", g.base_ms_per_token}};
    }
    cj["noise_floor"] = c.noise_floor;
    j["candidates"].push_back(cj);
  }
  std::ofstream out(path);
  if (!out) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", path));
  out << j.dump(1) << "\n";
  return out.good() ? absl::OkStatus() : absl::InternalError(absl::StrFormat("%s: write failed", path));
}

std::string FormatTokenStatsTable(const SweepMetrics& m) {
  const std::vector<std::pair<const char*, size_t>> head = {
      {"scheme", 24}, {"KL(base‖q)", 19}, {"p99", 8}, {"max", 8}, {"KL(q‖base)", 10},
      {"PPL ratio", 19}, {"same top-1", 14}, {"RMS Δp", 7}};
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? " " : "") + Pad(cells[i], head[i].second, i == 0);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out;
  for (size_t k = 0; k < m.corpus_names.size(); ++k) {
    bool any = false;
    for (const CandidateMetrics& c : m.candidates) any = any || (k < c.corpora.size() && c.corpora[k].comparison.exact);
    if (!any) continue;
    out += absl::StrFormat(
        "\ntoken statistics on %s (exact: fp64 over the whole vocabulary, against %s; mean ± standard error)\n",
        m.corpus_names[k], m.baseline_scheme);
    std::vector<std::string> titles;
    for (const auto& [t, w] : head) titles.push_back(t);
    out += line(titles);
    for (const CandidateMetrics& c : m.candidates) {
      if (k >= c.corpora.size() || !c.corpora[k].comparison.exact) continue;
      const metrics::ExactTokenStatsSummary& e = *c.corpora[k].comparison.exact;
      out += line({c.scheme + (c.noise_floor ? " (noise floor)" : ""),
                   ReadableKl(e.kl_base_cand.mean) + " ± " + ReadableKl(e.kl_base_cand.mean_stderr),
                   ReadableKl(e.kl_base_cand.p99), ReadableKl(e.kl_base_cand.max), ReadableKl(e.kl_cand_base.mean),
                   absl::StrFormat("%.5f ± %.5f", e.ppl_ratio, e.ppl_ratio_stderr),
                   ReadablePercent(e.same_top1) + " ± " + ReadablePercent(e.same_top1_stderr),
                   ReadablePercent(e.rms_dp)});
    }
  }
  return out;
}

std::string FormatGenerationTable(const SweepMetrics& m) {
  const std::vector<std::pair<const char*, size_t>> head = {
      {"scheme", 24}, {"acc", 7}, {"Δacc", 7}, {"c→i", 6}, {"i→c", 6}, {"identical", 9}, {"token agree", 11},
      {"1st diff", 8}, {"ms/token", 8}, {"TTFT ms", 8}};
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? " " : "") + Pad(cells[i], head[i].second, i == 0);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  auto ms = [](double v) { return std::isfinite(v) ? absl::StrFormat("%.2f", v) : std::string("-"); };
  std::string out;
  for (size_t k = 0; k < m.generation_names.size(); ++k) {
    out += absl::StrFormat("\ngeneration on %s (greedy, KV cache; flips and agreement against %s's continuations)\n",
                           m.generation_names[k], m.baseline_scheme);
    std::vector<std::string> titles;
    for (const auto& [t, w] : head) titles.push_back(t);
    out += line(titles);
    bool base_row = false;
    for (const CandidateMetrics& c : m.candidates) {
      if (k >= c.generations.size()) continue;
      const GenerationMetrics& g = c.generations[k];
      const metrics::GenerationSummary& s = g.summary;
      if (!base_row) {
        out += line({m.baseline_scheme + " (base)", ReadablePercent(s.base_accuracy), "", "", "", "", "", "",
                     ms(g.base_ms_per_token), ms(g.base_ttft_ms)});
        base_row = true;
      }
      const double n = s.samples > 0 ? static_cast<double>(s.samples) : NAN;
      out += line({c.scheme + (c.noise_floor ? " (noise floor)" : ""), ReadablePercent(s.cand_accuracy),
                   ReadableDelta(s.cand_accuracy - s.base_accuracy), ReadablePercent(s.correct_to_incorrect / n),
                   ReadablePercent(s.incorrect_to_correct / n), ReadablePercent(s.identical),
                   ReadablePercent(s.mean_token_agreement),
                   std::isfinite(s.mean_first_difference) ? absl::StrFormat("%.1f", s.mean_first_difference) : "-",
                   ms(g.ms_per_token), ms(g.ttft_ms)});
    }
  }
  return out;
}

}  // namespace qsweep
