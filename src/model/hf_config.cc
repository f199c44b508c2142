#include "model/hf_config.h"

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "core/input_file.h"

namespace qsweep {

namespace {

using nlohmann::json;

// Typed access to one JSON object with errors naming the file and the key
// (with its parent, e.g. "rope_scaling.factor").
class Fields {
 public:
  Fields(const json& obj, const std::string& file, std::string prefix)
      : obj_(obj), file_(file), prefix_(std::move(prefix)) {}

  bool Has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }

  absl::Status Missing(const char* key) const {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: missing required key '%s%s'", file_, prefix_, key));
  }
  absl::Status WrongType(const char* key, const char* want) const {
    return absl::InvalidArgumentError(absl::StrFormat("%s: key '%s%s' must be %s, got %s",
                                                      file_, prefix_, key, want,
                                                      obj_.at(key).type_name()));
  }
  absl::Status Bad(const char* key, const std::string& why) const {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: key '%s%s' %s", file_, prefix_, key, why));
  }

  // A positive integer (JSON integer, or a float with an integral value).
  absl::StatusOr<int64_t> PositiveInt(const char* key) const {
    if (!Has(key)) return Missing(key);
    const json& v = obj_.at(key);
    if (!v.is_number_integer() && !v.is_number_unsigned()) return WrongType(key, "an integer");
    const int64_t x = v.get<int64_t>();
    if (x <= 0) return Bad(key, absl::StrFormat("must be positive, got %d", x));
    return x;
  }
  absl::StatusOr<int64_t> PositiveInt(const char* key, int64_t dflt) const {
    if (!Has(key)) return dflt;
    return PositiveInt(key);
  }
  absl::StatusOr<double> Number(const char* key) const {
    if (!Has(key)) return Missing(key);
    const json& v = obj_.at(key);
    if (!v.is_number()) return WrongType(key, "a number");
    return v.get<double>();
  }
  absl::StatusOr<double> PositiveNumber(const char* key) const {
    QSWEEP_ASSIGN_OR_RETURN(double x, Number(key));
    if (!(x > 0)) return Bad(key, absl::StrFormat("must be positive, got %g", x));
    return x;
  }
  absl::StatusOr<double> PositiveNumber(const char* key, double dflt) const {
    if (!Has(key)) return dflt;
    return PositiveNumber(key);
  }
  absl::StatusOr<bool> Bool(const char* key, bool dflt) const {
    if (!Has(key)) return dflt;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) return WrongType(key, "true or false");
    return v.get<bool>();
  }
  absl::StatusOr<std::string> String(const char* key) const {
    if (!Has(key)) return Missing(key);
    const json& v = obj_.at(key);
    if (!v.is_string()) return WrongType(key, "a string");
    return v.get<std::string>();
  }

  const json& obj() const { return obj_; }
  const std::string& file() const { return file_; }
  const std::string& prefix() const { return prefix_; }

 private:
  const json& obj_;
  const std::string& file_;
  std::string prefix_;
};

struct ArchDefaults {
  const char* architecture;
  const char* model_type;
  bool qkv_bias;                  // Qwen2 always has q/k/v biases
  int64_t max_position_embeddings;  // transformers' default when the key is absent
};
constexpr ArchDefaults kArchs[] = {
    {"LlamaForCausalLM", "llama", false, 2048},
    {"MistralForCausalLM", "mistral", false, 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", true, 32768},
};

absl::StatusOr<const ArchDefaults*> ParseArchitecture(const Fields& f) {
  std::string name;
  if (f.Has("architectures")) {
    const json& a = f.obj().at("architectures");
    if (!a.is_array() || a.empty() || !a[0].is_string())
      return f.WrongType("architectures", "a non-empty array of strings");
    name = a[0].get<std::string>();
    for (const auto& arch : kArchs)
      if (name == arch.architecture) return &arch;
  } else if (f.Has("model_type")) {
    QSWEEP_ASSIGN_OR_RETURN(name, f.String("model_type"));
    for (const auto& arch : kArchs)
      if (name == arch.model_type) return &arch;
  } else {
    return f.Missing("architectures");
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: unsupported architecture '%s' (supported: LlamaForCausalLM, MistralForCausalLM, "
      "Qwen2ForCausalLM)",
      f.file(), name));
}

// The scaling part of a rope description: `type_key` names the member that
// holds the type ("rope_type", or the older "type").
absl::Status ParseRopeScaling(const Fields& f, RopeScaling* out) {
  const char* type_key = f.Has("rope_type") ? "rope_type" : "type";
  if (!f.Has(type_key)) return f.Missing("rope_type");
  QSWEEP_ASSIGN_OR_RETURN(std::string type, f.String(type_key));
  RopeScaling s;
  if (type == "default") {
    s.type = RopeType::kDefault;
  } else if (type == "linear") {
    s.type = RopeType::kLinear;
    QSWEEP_ASSIGN_OR_RETURN(s.factor, f.PositiveNumber("factor"));
  } else if (type == "llama3") {
    s.type = RopeType::kLlama3;
    QSWEEP_ASSIGN_OR_RETURN(s.factor, f.PositiveNumber("factor"));
    QSWEEP_ASSIGN_OR_RETURN(s.low_freq_factor, f.PositiveNumber("low_freq_factor"));
    QSWEEP_ASSIGN_OR_RETURN(s.high_freq_factor, f.PositiveNumber("high_freq_factor"));
    QSWEEP_ASSIGN_OR_RETURN(s.original_max_position_embeddings,
                            f.PositiveInt("original_max_position_embeddings"));
    if (!(s.high_freq_factor > s.low_freq_factor))
      return f.Bad("high_freq_factor", "must be greater than low_freq_factor");
  } else {
    return f.Bad(type_key, absl::StrFormat("names unsupported rope type '%s' (supported: "
                                           "default, linear, llama3)",
                                           type));
  }
  *out = s;
  return absl::OkStatus();
}

absl::Status ParseRope(const Fields& top, ModelConfig* c) {
  if (top.Has("rope_parameters")) {
    // transformers 5: everything, theta included, lives in one object.
    const json& rp = top.obj().at("rope_parameters");
    if (!rp.is_object()) return top.WrongType("rope_parameters", "an object");
    Fields f(rp, top.file(), "rope_parameters.");
    if (!f.Has("rope_type")) return f.Missing("rope_type");
    QSWEEP_RETURN_IF_ERROR(ParseRopeScaling(f, &c->rope_scaling));
    QSWEEP_ASSIGN_OR_RETURN(c->rope_theta, f.PositiveNumber("rope_theta"));
    return absl::OkStatus();
  }
  // Classic: theta at the top (transformers' default 10000 when absent),
  // rope_scaling null or absent for plain rope.
  QSWEEP_ASSIGN_OR_RETURN(c->rope_theta, top.PositiveNumber("rope_theta", 10000.0));
  c->rope_scaling = RopeScaling{};
  if (!top.Has("rope_scaling")) return absl::OkStatus();
  const json& rs = top.obj().at("rope_scaling");
  if (!rs.is_object()) return top.WrongType("rope_scaling", "an object or null");
  return ParseRopeScaling(Fields(rs, top.file(), "rope_scaling."), &c->rope_scaling);
}

absl::StatusOr<DType> ParseTorchDType(const Fields& f, const char* key) {
  QSWEEP_ASSIGN_OR_RETURN(std::string s, f.String(key));
  if (s == "bfloat16") return DType::kBF16;
  if (s == "float16" || s == "half") return DType::kF16;
  if (s == "float32" || s == "float") return DType::kF32;
  return f.Bad(key, absl::StrFormat("names unsupported dtype '%s' (supported: bfloat16, "
                                    "float16, float32)",
                                    s));
}

}  // namespace

absl::StatusOr<ModelConfig> ParseHfConfig(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object())
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: expected a JSON object, got %s", file, j.type_name()));
  Fields f(j, file, "");
  ModelConfig c;
  QSWEEP_ASSIGN_OR_RETURN(const ArchDefaults* arch, ParseArchitecture(f));
  c.architecture = arch->architecture;
  QSWEEP_ASSIGN_OR_RETURN(c.vocab_size, f.PositiveInt("vocab_size"));
  QSWEEP_ASSIGN_OR_RETURN(c.hidden_size, f.PositiveInt("hidden_size"));
  QSWEEP_ASSIGN_OR_RETURN(c.intermediate_size, f.PositiveInt("intermediate_size"));
  QSWEEP_ASSIGN_OR_RETURN(c.num_layers, f.PositiveInt("num_hidden_layers"));
  QSWEEP_ASSIGN_OR_RETURN(c.num_heads, f.PositiveInt("num_attention_heads"));
  QSWEEP_ASSIGN_OR_RETURN(c.num_kv_heads, f.PositiveInt("num_key_value_heads", c.num_heads));
  if (c.num_heads % c.num_kv_heads != 0)
    return f.Bad("num_key_value_heads",
                 absl::StrFormat("(%d) must divide num_attention_heads (%d)", c.num_kv_heads,
                                 c.num_heads));
  if (f.Has("head_dim")) {
    QSWEEP_ASSIGN_OR_RETURN(c.head_dim, f.PositiveInt("head_dim"));
  } else {
    if (c.hidden_size % c.num_heads != 0)
      return f.Bad("hidden_size",
                   absl::StrFormat("(%d) is not a multiple of num_attention_heads (%d) and no "
                                   "head_dim is given",
                                   c.hidden_size, c.num_heads));
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0)
    return f.Bad("head_dim", absl::StrFormat("must be even for rotary embeddings, got %d",
                                             c.head_dim));
  QSWEEP_ASSIGN_OR_RETURN(c.max_position_embeddings,
                          f.PositiveInt("max_position_embeddings", arch->max_position_embeddings));
  // transformers' default for all three families.
  QSWEEP_ASSIGN_OR_RETURN(c.rms_norm_eps, f.PositiveNumber("rms_norm_eps", 1e-6));
  QSWEEP_RETURN_IF_ERROR(ParseRope(f, &c));
  QSWEEP_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool("tie_word_embeddings", false));
  if (arch->qkv_bias) {
    c.attention_bias = true;
  } else {
    QSWEEP_ASSIGN_OR_RETURN(c.attention_bias, f.Bool("attention_bias", false));
  }
  if (c.architecture == std::string("MistralForCausalLM") && f.Has("sliding_window")) {
    QSWEEP_ASSIGN_OR_RETURN(c.sliding_window, f.PositiveInt("sliding_window"));
  }
  QSWEEP_ASSIGN_OR_RETURN(const bool qwen_sliding, f.Bool("use_sliding_window", false));
  if (qwen_sliding)
    return f.Bad("use_sliding_window", "is true: Qwen2's per-layer sliding window is not supported");
  if (f.Has("torch_dtype")) {
    QSWEEP_ASSIGN_OR_RETURN(c.dtype, ParseTorchDType(f, "torch_dtype"));
  } else if (f.Has("dtype")) {
    QSWEEP_ASSIGN_OR_RETURN(c.dtype, ParseTorchDType(f, "dtype"));
  } else {
    return f.Missing("torch_dtype");
  }
  return c;
}

absl::StatusOr<ModelConfig> LoadHfConfig(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the model config"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {  // the parser's line, column and reason
    return absl::InvalidArgumentError(absl::StrFormat("%s: not valid JSON: %s", path, e.what()));
  }
  return ParseHfConfig(j, path);
}

nlohmann::json HfConfigJson(const ModelConfig& c) {
  json j = {{"architectures", {c.architecture}},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_layers},
            {"num_attention_heads", c.num_heads},
            {"num_key_value_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"torch_dtype", c.dtype == DType::kBF16 ? "bfloat16" : c.dtype == DType::kF16 ? "float16" : "float32"}};
  for (const auto& arch : kArchs)
    if (c.architecture == arch.architecture) j["model_type"] = arch.model_type;
  if (c.architecture != std::string("Qwen2ForCausalLM")) j["attention_bias"] = c.attention_bias;
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  const RopeScaling& r = c.rope_scaling;
  if (r.type == RopeType::kLinear) j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", r.factor}};
  if (r.type == RopeType::kLlama3)
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", r.factor},
                         {"low_freq_factor", r.low_freq_factor},
                         {"high_freq_factor", r.high_freq_factor},
                         {"original_max_position_embeddings", r.original_max_position_embeddings}};
  return j;
}

}  // namespace qsweep
