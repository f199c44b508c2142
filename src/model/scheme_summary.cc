#include "model/scheme_summary.h"

#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/gguf_checkpoint.h"
#include "model/size_report.h"
#include "quant/scheme.h"

namespace qsweep {

SchemeSummary SummarizeScheme(const SchemeSpec& spec, const Checkpoint& checkpoint, const std::string& name) {
  const SizeReport sizes = ComputeSizes(spec, checkpoint.tensors());
  return SchemeSummary{name.empty() ? SchemeName(spec) : name, SchemeJson(spec), sizes.bits_per_weight(),
                       sizes.bytes()};
}

SchemeSummary SummarizeCheckpointEntry(const SchemeSpec& spec, const Checkpoint& checkpoint,
                                       const std::string& name) {
  SchemeSummary out = SummarizeScheme(spec, checkpoint, name);
  nlohmann::json j = nlohmann::json::parse(out.json);
  j["name"] = name;
  nlohmann::json source = {{"path", checkpoint.source()}, {"id", checkpoint.content_id()}};
  source["file_format"] = dynamic_cast<const GgufCheckpoint*>(&checkpoint) ? "gguf" : "safetensors";
  if (const std::vector<StoredFormat> stored = checkpoint.stored_formats(); !stored.empty()) {
    std::map<std::string, int> formats;
    int64_t bytes = 0, weights = 0;
    for (const StoredFormat& f : stored) {
      ++formats[f.format];
      bytes += f.bytes;
    }
    for (const TensorInfo& t : checkpoint.tensors()) weights += t.numel();
    source["formats"] = formats;
    out.bits_per_weight = weights ? 8.0 * static_cast<double>(bytes) / static_cast<double>(weights) : 0;
    out.bytes = bytes;
  }
  j["checkpoint"] = source;
  out.json = j.dump();
  return out;
}

std::string WithStoredProjections(const std::string& scheme_json, int64_t as_stored, int64_t projections) {
  nlohmann::json j = nlohmann::json::parse(scheme_json);
  j["checkpoint"]["projections"] = projections;
  j["checkpoint"]["projections_as_stored"] = as_stored;
  return j.dump();
}

absl::Status CheckSameModel(const Checkpoint& entry, const Checkpoint& baseline) {
  const ModelConfig &a = entry.config(), &b = baseline.config();
  const std::pair<const char*, std::pair<double, double>> fields[] = {
      {"vocab_size", {double(a.vocab_size), double(b.vocab_size)}},
      {"hidden_size", {double(a.hidden_size), double(b.hidden_size)}},
      {"intermediate_size", {double(a.intermediate_size), double(b.intermediate_size)}},
      {"num_layers", {double(a.num_layers), double(b.num_layers)}},
      {"num_heads", {double(a.num_heads), double(b.num_heads)}},
      {"num_kv_heads", {double(a.num_kv_heads), double(b.num_kv_heads)}},
      {"head_dim", {double(a.head_dim), double(b.head_dim)}},
      {"rope_theta", {a.rope_theta, b.rope_theta}},
      {"tie_word_embeddings", {double(a.tie_word_embeddings), double(b.tie_word_embeddings)}},
      {"attention_bias", {double(a.attention_bias), double(b.attention_bias)}}};
  for (const auto& [field, values] : fields)
    if (values.first != values.second)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is not of the baseline's model %s: %s is %g, the baseline's %g", entry.source(), baseline.source(),
          field, values.first, values.second));
  // eps is stored as float32 in GGUF: equal to its rounding.
  if (static_cast<float>(a.rms_norm_eps) != static_cast<float>(b.rms_norm_eps) ||
      a.rope_scaling.type != b.rope_scaling.type)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is not of the baseline's model %s: rms_norm_eps %g / %g, rope scaling %s / %s", entry.source(),
        baseline.source(), a.rms_norm_eps, b.rms_norm_eps, RopeTypeName(a.rope_scaling.type),
        RopeTypeName(b.rope_scaling.type)));
  return absl::OkStatus();
}

}  // namespace qsweep
