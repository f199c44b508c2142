#include "quant/scheme.h"

#include <algorithm>
#include <regex>
#include <tuple>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

constexpr char kValidForms[] =
    "valid forms: fp32, bf16, fp16; w<2-8>a16[-g<N>][-asym] (e.g. w8a16, w4a16-g128, "
    "w4a16-g128-asym, w3a16-g128, w2a16-g64); w1a16-g<N> (binary); t2a16-g<N> (ternary); "
    "nf4-g<N>, fp4-g<N>; fp8, fp8a16 (weights only); w8a8, w4a8, w4a4; group sizes are powers of two >= 16; "
    "optional method suffix -rtn (default), -gptq[-act][-static] (integer formats; act-order, static "
    "groups), -awq, or -sq<alpha> (alpha in [0, 1]; w8a8, w4a8, "
    "w4a4, fp8 only)";

absl::Status BadName(std::string_view name, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown scheme '%s' (%s); %s", name, why, kValidForms));
}

bool IsPowerOfTwo(int64_t g) { return g > 0 && (g & (g - 1)) == 0; }

}  // namespace

absl::StatusOr<SchemeSpec> ParseScheme(std::string_view name_view) {
  const std::string name(name_view);
  std::vector<std::string> parts = absl::StrSplit(name, '-');
  if (parts.empty() || parts[0].empty()) return BadName(name, "empty");
  SchemeSpec s;
  WeightFormat& f = s.format;
  const std::string head = parts[0];
  std::smatch m;
  static const std::regex kWxAy("w([1-8])a(16|8|4)"), kTernary("t2a16");
  bool allow_group = false, need_group = false, allow_asym = false;
  if (head == "fp32" || head == "bf16" || head == "fp16") {
    f = WeightFormat::Dense(head == "fp32" ? 32 : 16, head == "fp16");
  } else if (head == "fp8" || head == "fp8a16") {
    f.kind = WeightKind::kFp8;
    f.bits = 8;
    f.act = head == "fp8" ? ActKind::kFp8 : ActKind::kNone;
  } else if (head == "nf4" || head == "fp4") {
    f.kind = head == "nf4" ? WeightKind::kNf4 : WeightKind::kFp4;
    f.bits = 4;
    allow_group = need_group = true;
  } else if (std::regex_match(head, m, kTernary)) {
    f.kind = WeightKind::kTernary;
    f.bits = 2;
    allow_group = need_group = true;
  } else if (std::regex_match(head, m, kWxAy)) {
    const int wb = std::stoi(m[1]), ab = std::stoi(m[2]);
    f.bits = wb;
    if (ab == 16) {
      f.kind = wb == 1 ? WeightKind::kBinary : WeightKind::kInt;
      allow_group = true;
      need_group = wb == 1;
      allow_asym = wb > 1;
    } else {
      const bool known = (wb == 8 && ab == 8) || (wb == 4 && ab == 8) || (wb == 4 && ab == 4);
      if (!known) return BadName(name, "integer activations come as w8a8, w4a8 or w4a4");
      f.kind = WeightKind::kInt;
      f.act = ab == 8 ? ActKind::kInt8 : ActKind::kInt4;
    }
  } else {
    return BadName(name, absl::StrFormat("'%s' is not a format", head));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.size() > 1 && p[0] == 'g' && std::all_of(p.begin() + 1, p.end(), ::isdigit)) {
      if (!allow_group || f.group) return BadName(name, "a group size does not apply here");
      if (p.size() > 8) return BadName(name, "group size too large");
      f.group = std::stoll(p.substr(1));
      if (!IsPowerOfTwo(f.group) || f.group < 16) return BadName(name, "group sizes are powers of two >= 16");
    } else if (p == "asym") {
      if (!allow_asym || f.asymmetric) return BadName(name, "-asym applies to w<2-8>a16 only");
      f.asymmetric = true;
    } else if (p == "gptq") {
      // GPTQ's options follow it: -act (act-order), then -static (static groups).
      size_t j = i + 1;
      if (j < parts.size() && parts[j] == "act") s.gptq.act_order = true, ++j;
      if (j < parts.size() && parts[j] == "static") s.gptq.static_groups = true, ++j;
      if (j != parts.size() || f.kind != WeightKind::kInt)
        return BadName(name, "-gptq[-act][-static] comes last, after an integer format");
      if (s.gptq.static_groups && !f.group) return BadName(name, "-static (static groups) needs a group size");
      s.method = Method::kGptq;
      i = parts.size();
    } else if (p == "rtn" || p == "awq") {
      if (i != parts.size() - 1 || f.kind == WeightKind::kDense)
        return BadName(name, "the method comes last, after a quantized format");
      s.method = p == "rtn" ? Method::kRtn : Method::kAwq;
    } else if (p.starts_with("sq")) {
      // SmoothQuant moves activation outliers into the weights: it needs
      // quantized activations. alpha in [0, 1], printed canonically (%g).
      double alpha = 0;
      if (!std::regex_match(p, std::regex(R"(sq([01]|[01]?\.[0-9]+))")) || (alpha = std::stod(p.substr(2))) > 1)
        return BadName(name, absl::StrFormat("'%s': -sq<alpha> takes alpha in [0, 1], e.g. -sq0.5", p));
      if (i != parts.size() - 1 || f.act == ActKind::kNone)
        return BadName(name, "-sq<alpha> comes last, after a scheme that quantizes activations (w8a8, w4a8, w4a4, fp8)");
      s.method = Method::kSmoothQuant;
      s.smooth_alpha = alpha;
    } else {
      return BadName(name, absl::StrFormat("unknown part '%s'", p));
    }
  }
  if (need_group && !f.group) return BadName(name, "this format needs a group size, e.g. -g64");
  s.base = head + (f.group ? absl::StrFormat("-g%d", f.group) : "") + (f.asymmetric ? "-asym" : "") +
           (s.method != Method::kRtn ? "-" + MethodName(s) : "");
  return s;
}

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kRtn: return "rtn";
    case Method::kGptq: return "gptq";
    case Method::kAwq: return "awq";
    case Method::kSmoothQuant: return "smoothquant";
  }
  return "?";
}

std::string MethodName(const SchemeSpec& spec) {
  if (spec.method == Method::kSmoothQuant) return absl::StrFormat("sq%g", spec.smooth_alpha);
  if (spec.method == Method::kGptq)
    return std::string("gptq") + (spec.gptq.act_order ? "-act" : "") + (spec.gptq.static_groups ? "-static" : "");
  return std::string(MethodName(spec.method));
}

SchemeSpec Fp32Scheme() {
  SchemeSpec s;
  s.base = "fp32";
  s.format = WeightFormat::Dense(32);
  return s;
}

std::string SchemeName(const SchemeSpec& spec) {
  return spec.rules.empty() ? spec.base : spec.base + "+overrides";
}

namespace {

bool IsNormOrBias(std::string_view n) {
  return n.find("norm") != std::string_view::npos || n.ends_with(".bias");
}

// "model.layers.12.mlp.up_proj.weight" → layer 12, projection "up".
bool LayerProjection(std::string_view n, int64_t* layer, std::string* proj) {
  static const std::regex kRe(R"(model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)_proj\.weight)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(n.begin(), n.end(), m, kRe)) return false;
  *layer = std::stoll(m[1].str());
  *proj = m[3].str();
  return true;
}

}  // namespace

WeightFormat UnquantizedFormat(const SchemeSpec& spec) {
  return spec.format.kind == WeightKind::kDense ? spec.format : WeightFormat::Dense(16);
}

WeightFormat FormatFor(const SchemeSpec& spec, std::string_view name) {
  if (IsNormOrBias(name)) return UnquantizedFormat(spec);
  int64_t layer = 0;
  std::string proj;
  if (!LayerProjection(name, &layer, &proj)) return UnquantizedFormat(spec);  // embeddings, head
  for (const OverrideRule& r : spec.rules) {
    if (layer < r.first_layer || (r.last_layer >= 0 && layer > r.last_layer)) continue;
    if (!r.projections.empty() && std::find(r.projections.begin(), r.projections.end(), proj) == r.projections.end())
      continue;
    return r.format ? *r.format : UnquantizedFormat(spec);
  }
  return spec.format;
}

std::string SchemeJson(const SchemeSpec& spec) {
  nlohmann::json j;
  j["name"] = SchemeName(spec);
  j["base"] = spec.base;
  j["weights"] = spec.format.Describe();
  j["activations"] = std::vector<std::string>{"none", "int8", "int4", "fp8"}[static_cast<int>(spec.format.act)];
  j["method"] = MethodName(spec);
  if (spec.method == Method::kGptq)
    j["gptq"] = {{"act_order", spec.gptq.act_order},
                 {"static_groups", spec.gptq.static_groups},
                 {"damp", spec.gptq.damp},
                 {"damp_retries", spec.gptq.damp_retries},
                 {"block_size", spec.gptq.block_size}};
  j["embeddings_and_head"] = spec.format.kind == WeightKind::kDense ? spec.base : "bf16";
  nlohmann::json rules = nlohmann::json::array();
  for (const OverrideRule& r : spec.rules)
    rules.push_back({{"layers", absl::StrFormat("%d-%d", r.first_layer, r.last_layer)},
                     {"projections", r.projections},
                     {"scheme", r.scheme}});
  j["overrides"] = rules;
  return j.dump();
}

std::string SchemeToYaml(const SchemeSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "scheme" << YAML::Value << spec.base;
  if (!spec.rules.empty()) {
    out << YAML::Key << "overrides" << YAML::Value << YAML::BeginSeq;
    for (const OverrideRule& r : spec.rules) {
      out << YAML::BeginMap;
      out << YAML::Key << "layers" << YAML::Value
          << (r.last_layer < 0 ? absl::StrFormat("%d-", r.first_layer)
                               : absl::StrFormat("%d-%d", r.first_layer, r.last_layer));
      if (!r.projections.empty()) out << YAML::Key << "projections" << YAML::Value << YAML::Flow << r.projections;
      out << YAML::Key << "format" << YAML::Value << r.scheme << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return out.c_str();
}

namespace {

absl::StatusOr<SchemeSpec> SchemeFromYamlNode(const YAML::Node& root);

}  // namespace

// yaml-cpp throws where a value is not of the type asked for (a map where a
// name belongs): every such conversion below ends here as one error.
absl::StatusOr<SchemeSpec> SchemeFromYaml(const std::string& text) {
  try {
    return SchemeFromYamlNode(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("scheme YAML: ") + e.what());
  }
}

namespace {

absl::StatusOr<SchemeSpec> SchemeFromYamlNode(const YAML::Node& root) {
  auto error = [](const std::string& what) { return absl::InvalidArgumentError("scheme YAML: " + what); };
  if (!root.IsMap() || !root["scheme"]) return error("'scheme' missing");
  // A misspelt key would silently widen a rule to every layer: refuse it.
  for (const auto& kv : root)
    if (kv.first.as<std::string>() != "scheme" && kv.first.as<std::string>() != "overrides")
      return error(absl::StrFormat("unknown key '%s' (scheme, overrides)", kv.first.as<std::string>()));
  QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ParseScheme(root["scheme"].as<std::string>()));
  const YAML::Node overrides = root["overrides"];
  if (overrides && !overrides.IsSequence()) return error("'overrides' must be a list of rules");
  const std::vector<std::string>& kProjections = ProjectionTypes();
  for (size_t i = 0; overrides && i < overrides.size(); ++i) {
    const YAML::Node n = overrides[i];
    const std::string where = absl::StrFormat("override %d: ", i);
    if (!n.IsMap()) return error(where + "a rule is a map {layers, projections, format}");
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (key != "layers" && key != "projections" && key != "format")
        return error(where + absl::StrFormat("unknown key '%s' (layers, projections, format)", key));
    }
    OverrideRule r;
    auto range = ParseLayerRange(n["layers"] ? n["layers"].as<std::string>() : "0-");
    if (!range.ok()) return error(where + std::string(range.status().message()));
    std::tie(r.first_layer, r.last_layer) = *range;
    if (n["projections"]) {
      if (!n["projections"].IsSequence()) return error(where + "projections is a list, e.g. [q, k, v]");
      for (const YAML::Node& p : n["projections"]) {
        const std::string s = p.as<std::string>();
        if (std::find(kProjections.begin(), kProjections.end(), s) == kProjections.end())
          return error(where + absl::StrFormat("projection '%s' (q k v o gate up down)", s));
        r.projections.push_back(s);
      }
    }
    r.scheme = n["format"] ? n["format"].as<std::string>() : "keep";
    if (r.scheme != "keep") {
      QSWEEP_ASSIGN_OR_RETURN(SchemeSpec other, ParseScheme(r.scheme));
      // FormatFor gives a tensor's format only; the method is the base's.
      if (other.method != Method::kRtn)
        return error(where + absl::StrFormat("format '%s': a method suffix belongs to the base scheme", r.scheme));
      r.scheme = other.base;
      r.format = other.format;
    }
    spec.rules.push_back(r);
  }
  return spec;
}

}  // namespace

const std::vector<std::string>& ProjectionTypes() {
  static const std::vector<std::string> kTypes = {"q", "k", "v", "o", "gate", "up", "down"};
  return kTypes;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ParseLayerRange(const std::string& layers) {
  std::smatch m;
  // At most 9 digits: a layer index that large is already no model's, and
  // longer runs of digits would overflow (std::stoll throws on them).
  static const std::regex kRange(R"((\d{1,9})-(\d{0,9}))"), kOne(R"((\d{1,9}))");
  if (std::regex_match(layers, m, kRange)) {
    const int64_t first = std::stoll(m[1]), last = m[2].str().empty() ? -1 : std::stoll(m[2]);
    if (last >= 0 && last < first)
      return absl::InvalidArgumentError(absl::StrFormat("layers '%s' is an empty range", layers));
    return std::make_pair(first, last);
  }
  if (std::regex_match(layers, m, kOne)) return std::make_pair(std::stoll(m[1]), std::stoll(m[1]));
  return absl::InvalidArgumentError(absl::StrFormat("layers '%s' (expected A-B, A- or A)", layers));
}

absl::StatusOr<SchemeSpec> ResolveScheme(const std::string& text) {
  if (text.find(':') == std::string::npos) return ParseScheme(text);
  return SchemeFromYaml(text);
}

}  // namespace qsweep
