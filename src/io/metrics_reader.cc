#include "io/metrics_reader.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "io/h5_file.h"
#include "metrics/exact_token_stats.h"
#include "io/metrics_file.h"

namespace qsweep {

absl::StatusOr<MetricsFileData> ReadMetricsFile(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  if (!f.HasAttr("/", "kind") || f.GetStringAttr("/", "kind").value_or("") != "qsweep metrics")
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a qsweep metrics file (run qsweep metrics)", path));
  if (!f.HasAttr("/", "complete"))
    return absl::FailedPreconditionError(absl::StrFormat("%s: incomplete metrics file", path));
  QSWEEP_ASSIGN_OR_RETURN(int64_t version, f.GetIntAttr("/", "schema_version"));
  if (version != kMetricsSchemaVersion)
    return absl::FailedPreconditionError(absl::StrFormat("%s: metrics schema version %d, expected %d", path, version,
                                                         kMetricsSchemaVersion));
  MetricsFileData d;
  QSWEEP_ASSIGN_OR_RETURN(d.model, f.GetStringAttr("/", "model"));
  QSWEEP_ASSIGN_OR_RETURN(d.baseline, f.GetStringAttr("/", "baseline"));
  QSWEEP_ASSIGN_OR_RETURN(std::string names, f.GetStringAttr("/summary", "schemes"));
  d.schemes = absl::StrSplit(names, '\n');
  d.devices.assign(d.schemes.size(), "");  // files written before they were recorded
  if (f.HasAttr("/summary", "devices")) {
    QSWEEP_ASSIGN_OR_RETURN(std::string devices, f.GetStringAttr("/summary", "devices"));
    std::vector<std::string> each = absl::StrSplit(devices, '\n');
    if (each.size() != d.schemes.size())
      return absl::DataLossError(absl::StrFormat("%s: /summary has %d devices for %d schemes", path, each.size(),
                                                 d.schemes.size()));
    d.devices = std::move(each);
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> columns, f.Children("/summary"));
  for (const std::string& c : columns) {
    QSWEEP_ASSIGN_OR_RETURN(d.summary[c], f.Read<double>("/summary/" + c));
    if (d.summary[c].size() != d.schemes.size())
      return absl::DataLossError(absl::StrFormat("%s: /summary/%s has %d rows for %d schemes", path, c,
                                                 d.summary[c].size(), d.schemes.size()));
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> cands, f.Children("/candidates"));
  for (const std::string& s : cands) {
    MetricsCandidateData c;
    c.scheme = s;
    const std::string g = "/candidates/" + s;
    if (f.HasAttr(g, "noise_floor")) {
      QSWEEP_ASSIGN_OR_RETURN(const int64_t floor, f.GetIntAttr(g, "noise_floor"));
      c.noise_floor = floor != 0;
    }
    if (f.HasAttr(g, "scheme_json")) {
      QSWEEP_ASSIGN_OR_RETURN(c.scheme_json, f.GetStringAttr(g, "scheme_json"));
    }
    QSWEEP_ASSIGN_OR_RETURN(c.bin_lo, f.Read<double>(g + "/all_tasks/margin_bin_lo"));
    QSWEEP_ASSIGN_OR_RETURN(c.bin_hi, f.Read<double>(g + "/all_tasks/margin_bin_hi"));
    QSWEEP_ASSIGN_OR_RETURN(c.bin_count, f.Read<int64_t>(g + "/all_tasks/margin_bin_count"));
    QSWEEP_ASSIGN_OR_RETURN(c.bin_flip_probability, f.Read<double>(g + "/all_tasks/margin_bin_flip_probability"));
    QSWEEP_ASSIGN_OR_RETURN(c.bin_mean_abs_dp, f.Read<double>(g + "/all_tasks/margin_bin_mean_abs_dp"));
    // The report walks the bins together: arrays of other lengths would
    // read past the shorter ones.
    for (const size_t n : {c.bin_hi.size(), c.bin_count.size(), c.bin_flip_probability.size(), c.bin_mean_abs_dp.size()})
      if (n != c.bin_lo.size())
        return absl::DataLossError(absl::StrFormat(
            "%s: %s/all_tasks: the margin-bin arrays have different lengths (%d bin edges, one array of %d)", path, g,
            c.bin_lo.size(), n));
    QSWEEP_ASSIGN_OR_RETURN(c.answer_kl, f.Read<double>(g + "/all_tasks/answer_kl"));
    QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> tasks, f.Children(g + "/tasks"));
    for (const std::string& t : tasks) {
      const std::string tg = g + "/tasks/" + t;
      MetricsTaskSummary m;
      QSWEEP_ASSIGN_OR_RETURN(m.accuracy_base, f.GetDoubleAttr(tg, "accuracy_base"));
      QSWEEP_ASSIGN_OR_RETURN(m.accuracy, f.GetDoubleAttr(tg, "accuracy"));
      QSWEEP_ASSIGN_OR_RETURN(m.flip_rate, f.GetDoubleAttr(tg, "flip_rate"));
      QSWEEP_ASSIGN_OR_RETURN(m.answer_kl_mean, f.GetDoubleAttr(tg, "answer_kl_mean"));
      const std::pair<const char*, double*> later[] = {
          {"mcnemar_p", &m.mcnemar_p}, {"delta_accuracy_lo", &m.delta_lo}, {"delta_accuracy_hi", &m.delta_hi},
          {"flips_correct_to_incorrect", &m.flips_c2i}, {"flips_incorrect_to_correct", &m.flips_i2c}};
      for (const auto& [key, value] : later)
        if (f.HasAttr(tg, key)) {
          QSWEEP_ASSIGN_OR_RETURN(*value, f.GetDoubleAttr(tg, key));
        }
      c.tasks[t] = m;
      if (d.candidates.empty()) d.task_names.push_back(t);
    }
    QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> corpora, f.Children(g + "/ppl"));
    for (const std::string& k : corpora) {
      const std::string kg = g + "/ppl/" + k;
      MetricsCorpusData m;
      QSWEEP_ASSIGN_OR_RETURN(m.ppl_base, f.GetDoubleAttr(kg, "ppl_base"));
      QSWEEP_ASSIGN_OR_RETURN(m.ppl, f.GetDoubleAttr(kg, "ppl"));
      QSWEEP_ASSIGN_OR_RETURN(int64_t bound, f.GetIntAttr(kg, "token_kl_is_lower_bound"));
      m.kl_is_bound = bound != 0;
      QSWEEP_ASSIGN_OR_RETURN(m.token_kl, f.Read<double>(kg + "/token_kl"));
      QSWEEP_ASSIGN_OR_RETURN(m.dp, f.Read<double>(kg + "/dp"));
      QSWEEP_ASSIGN_OR_RETURN(m.confidence_base, f.Read<double>(kg + "/confidence_base"));
      QSWEEP_ASSIGN_OR_RETURN(m.confidence, f.Read<double>(kg + "/confidence"));
      m.kl_source = m.kl_is_bound ? "top-K lower bound" : "float16 rows";
      if (f.HasAttr(kg, "token_kl_source")) {
        QSWEEP_ASSIGN_OR_RETURN(m.kl_source, f.GetStringAttr(kg, "token_kl_source"));
      }
      if (m.kl_source == "exact") {
        QSWEEP_ASSIGN_OR_RETURN(m.token_kl_reverse, f.Read<double>(kg + "/token_kl_reverse"));
        for (const auto& [key, unused] : metrics::ExactStatsFields({})) {
          QSWEEP_ASSIGN_OR_RETURN(m.exact[key], f.GetDoubleAttr(kg, key));
        }
      }
      c.corpora[k] = std::move(m);
      if (d.candidates.empty()) d.corpus_names.push_back(k);
    }
    if (f.Exists(g + "/generate")) {
      QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> gens, f.Children(g + "/generate"));
      for (const std::string& t : gens) {
        const std::string tg = g + "/generate/" + t;
        MetricsGenerationSummary m;
        const std::pair<const char*, double*> fields[] = {
            {"accuracy_base", &m.accuracy_base}, {"accuracy", &m.accuracy},
            {"flips_correct_to_incorrect", &m.flips_c2i}, {"flips_incorrect_to_correct", &m.flips_i2c},
            {"identical", &m.identical}, {"mean_token_agreement", &m.mean_token_agreement},
            {"ms_per_token", &m.ms_per_token}, {"ms_per_token_base", &m.ms_per_token_base},
            {"ttft_ms", &m.ttft_ms}, {"ttft_ms_base", &m.ttft_ms_base}};
        for (const auto& [key, value] : fields) {
          QSWEEP_ASSIGN_OR_RETURN(*value, f.GetDoubleAttr(tg, key));
        }
        c.generations[t] = m;
        if (d.candidates.empty()) d.generation_names.push_back(t);
      }
    }
    d.candidates.push_back(std::move(c));
  }
  return d;
}

}  // namespace qsweep
