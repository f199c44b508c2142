#include "io/metrics_file.h"

#include <cmath>
#include <filesystem>
#include <initializer_list>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "core/output_file.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

absl::Status WriteChoice(h5::File& f, const std::string& g, const metrics::ChoiceComparison& c) {
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/base_correct", c.acc.base.correct));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/correct", c.acc.candidate.correct));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/correct_to_incorrect", c.acc.flips.correct_to_incorrect));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/incorrect_to_correct", c.acc.flips.incorrect_to_correct));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/answer_kl", c.answer_kl.per_sample));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/base_margin", c.margins.margin));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/dp", c.margins.dp));
  std::vector<double> lo, hi, fp, dp;
  std::vector<int64_t> count;
  for (const auto& b : c.margins.bins) {
    lo.push_back(b.lo);
    hi.push_back(b.hi);
    count.push_back(b.count);
    fp.push_back(b.flip_probability);
    dp.push_back(b.mean_abs_dp);
  }
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/margin_bin_lo", lo));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/margin_bin_hi", hi));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/margin_bin_count", count));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/margin_bin_flip_probability", fp));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/margin_bin_mean_abs_dp", dp));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "accuracy_base", c.acc.base.accuracy));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "accuracy", c.acc.candidate.accuracy));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "flip_rate", c.acc.flips.flip_rate));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "mcnemar_p", c.acc.mcnemar.p_value));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "delta_accuracy_lo", c.acc.intervals.delta_accuracy.lo));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "delta_accuracy_hi", c.acc.intervals.delta_accuracy.hi));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "flips_correct_to_incorrect", c.acc.flips.correct_to_incorrect_rate));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "flips_incorrect_to_correct", c.acc.flips.incorrect_to_correct_rate));
  return f.SetDoubleAttr(g, "answer_kl_mean", c.answer_kl.summary.mean);
}

absl::Status WriteGeneration(h5::File& f, const std::string& g, const GenerationMetrics& t) {
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
  std::vector<int64_t> first;
  std::vector<double> agreement;
  for (const auto& p : t.pairs) {
    first.push_back(p.first_difference);
    agreement.push_back(p.token_agreement);
  }
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/base_correct", t.base_correct));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/correct", t.correct));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/first_difference", first));
  QSWEEP_RETURN_IF_ERROR(f.Write(g + "/token_agreement", agreement));
  const metrics::GenerationSummary& s = t.summary;
  const double n = s.samples > 0 ? static_cast<double>(s.samples) : NAN;
  for (const auto& [key, value] : std::initializer_list<std::pair<const char*, double>>{
           {"accuracy_base", s.base_accuracy},
           {"accuracy", s.cand_accuracy},
           {"flips_correct_to_incorrect", s.correct_to_incorrect / n},
           {"flips_incorrect_to_correct", s.incorrect_to_correct / n},
           {"identical", s.identical},
           {"mean_token_agreement", s.mean_token_agreement},
           {"mean_first_difference", s.mean_first_difference},
           {"ttft_ms_base", t.base_ttft_ms},
           {"ttft_ms", t.ttft_ms},
           {"ms_per_token_base", t.base_ms_per_token},
           {"ms_per_token", t.ms_per_token}})
    QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, key, value));
  return absl::OkStatus();
}

}  // namespace

// The run files the metrics were computed from: never overwritten by them.
static std::vector<std::string> MetricsInputs(const SweepMetrics& m) {
  std::vector<std::string> inputs = {m.baseline_path};
  for (const CandidateMetrics& c : m.candidates) inputs.push_back(c.path);
  return inputs;
}

absl::Status WriteMetricsFile(const std::string& path, const SweepMetrics& m, const std::vector<SummaryRow>& rows) {
  QSWEEP_RETURN_IF_ERROR(CreateParentFolder(path));
  QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(path, MetricsInputs(m)));
  {
    QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Create(out.tmp()));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "kind", std::string("qsweep metrics")));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "schema_version", kMetricsSchemaVersion));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "model", m.model));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "model_id", m.model_id));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "requests_id", m.requests_id));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "baseline", m.baseline_scheme));
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/summary"));
    std::vector<std::string> schemes, devices;
    constexpr int kColumns = 21;
    std::vector<double> cols[kColumns];
    for (const SummaryRow& r : rows) {
      schemes.push_back(r.scheme);
      devices.push_back(r.device);
      const double v[kColumns] = {r.bits_per_weight, r.size_gb, r.accuracy, r.delta_accuracy, r.delta_lo, r.delta_hi,
                                  r.flips_c2i, r.flips_i2c, r.flip_lo, r.flip_hi, r.mcnemar_p, r.answer_kl_mean,
                                  r.answer_kl_p95, r.ppl, r.ppl_ratio, r.token_kl_mean, r.top1_same,
                                  r.tokens_per_s, r.samples_per_s, r.weight_gib, r.device_gib};
      for (int i = 0; i < kColumns; ++i) cols[i].push_back(v[i]);
    }
    // Measured columns are 0 where a run did not measure them.
    static const char* kNames[kColumns] = {
        "bits_per_weight", "size_gb", "accuracy", "delta_accuracy", "delta_accuracy_lo", "delta_accuracy_hi",
        "flips_correct_to_incorrect", "flips_incorrect_to_correct", "flip_rate_lo", "flip_rate_hi", "mcnemar_p",
        "answer_kl_mean", "answer_kl_p95", "ppl", "ppl_ratio", "token_kl_mean", "top1_same", "tokens_per_s",
        "samples_per_s", "weight_gib", "device_gib"};
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/summary", "schemes", absl::StrJoin(schemes, "\n")));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/summary", "devices", absl::StrJoin(devices, "\n")));
    for (int i = 0; i < kColumns; ++i) QSWEEP_RETURN_IF_ERROR(f.Write(std::string("/summary/") + kNames[i], cols[i]));
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/candidates"));
    for (const CandidateMetrics& c : m.candidates) {
      const std::string g = "/candidates/" + c.scheme;
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "run_file", c.path));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "scheme_json", c.scheme_json));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "noise_floor", int64_t{c.noise_floor}));
      QSWEEP_RETURN_IF_ERROR(WriteChoice(f, g + "/all_tasks", c.pooled));
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g + "/tasks"));
      for (const TaskMetrics& t : c.tasks) QSWEEP_RETURN_IF_ERROR(WriteChoice(f, g + "/tasks/" + t.task, t.comparison));
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g + "/ppl"));
      for (const CorpusMetrics& k : c.corpora) {
        const std::string p = g + "/ppl/" + k.corpus;
        const auto& t = k.comparison;
        QSWEEP_RETURN_IF_ERROR(f.CreateGroup(p));
        QSWEEP_RETURN_IF_ERROR(f.Write(p + "/token_kl", t.kl_per_token));
        QSWEEP_RETURN_IF_ERROR(f.Write(p + "/dp", t.dp.per_token));
        QSWEEP_RETURN_IF_ERROR(f.Write(p + "/confidence_base", t.base_confidence.fraction));
        QSWEEP_RETURN_IF_ERROR(f.Write(p + "/confidence", t.candidate_confidence.fraction));
        QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(p, "ppl_base", t.perplexity.base.ppl));
        QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(p, "ppl", t.perplexity.candidate.ppl));
        QSWEEP_RETURN_IF_ERROR(f.SetAttr(p, "token_kl_is_lower_bound", static_cast<int64_t>(t.kl.is_bound)));
        QSWEEP_RETURN_IF_ERROR(f.SetAttr(p, "token_kl_source", std::string(metrics::TokenKlSourceName(t.kl_source))));
        if (t.exact) {
          QSWEEP_RETURN_IF_ERROR(f.Write(p + "/token_kl_reverse", t.kl_reverse_per_token));
          for (const auto& [key, value] : metrics::ExactStatsFields(*t.exact))
            QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(p, key, value));
        }
      }
    }
    for (const CandidateMetrics& c : m.candidates) {
      if (c.generations.empty()) continue;
      const std::string g = "/candidates/" + c.scheme + "/generate";
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      for (const GenerationMetrics& t : c.generations) QSWEEP_RETURN_IF_ERROR(WriteGeneration(f, g + "/" + t.task, t));
    }
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "complete", int64_t{1}));
    QSWEEP_RETURN_IF_ERROR(f.Close());
  }
  return out.Commit();
}

}  // namespace qsweep
