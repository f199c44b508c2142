#include "sweep/sweep_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "quant/scheme.h"
#include "core/input_file.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  absl::Status Error(const YAML::Node& node, const std::string& key, const std::string& what) const {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s: %s", file_, line, key, what));
  }

  absl::Status Keys(const YAML::Node& map, const std::string& where, const std::set<std::string>& allowed) const {
    if (!map.IsMap()) return Error(map, where, "expected a mapping");
    for (const auto& kv : map) {
      const std::string k = kv.first.as<std::string>();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(kv.first, where.empty() ? k : where + "." + k,
                     absl::StrFormat("unknown key (known: %s)", list));
      }
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Get(const YAML::Node& map, const std::string& key, T* out, bool required,
                   const std::string& where = "") const {
    const YAML::Node n = map[key];
    const std::string name = where.empty() ? key : where + "." + key;
    if (!n) return required ? Error(map, name, "missing") : absl::OkStatus();
    try {
      *out = n.as<T>();
    } catch (const YAML::Exception&) {
      return Error(n, name, "wrong type");
    }
    return absl::OkStatus();
  }

  // An optional name of one of E's values (core/run_layout.h).
  template <NamedEnum E>
  absl::Status GetName(const YAML::Node& map, const std::string& key, E* out, const std::string& where) const {
    if (!map[key]) return absl::OkStatus();
    std::string text;
    QSWEEP_RETURN_IF_ERROR(Get(map, key, &text, true, where));
    const std::optional<E> value = Parse<E>(text);
    if (!value) return Error(map, where + "." + key, absl::StrFormat("'%s' (%s)", text, NameList<E>()));
    *out = *value;
    return absl::OkStatus();
  }

  std::string Resolve(const std::string& p) const {
    if (p.empty() || p.rfind("synthetic:", 0) == 0 || fs::path(p).is_absolute()) return p;
    return (fs::path(file_).parent_path() / p).lexically_normal().string();
  }

 private:
  std::string file_;
};

}  // namespace

std::string SweepConfig::SchemeText(const std::string& name) const {
  const auto it = scheme_specs.find(name);
  return it == scheme_specs.end() ? name : it->second;
}

int64_t SweepConfig::BatchTokensOf(const std::string& name) const {
  const auto it = entry_scoring.find(name);
  return it != entry_scoring.end() && it->second.batch_tokens ? *it->second.batch_tokens : batch_tokens;
}

Reduction SweepConfig::ReductionOf(const std::string& name) const {
  const auto it = entry_scoring.find(name);
  return it != entry_scoring.end() && it->second.reduction ? *it->second.reduction : reduction;
}

std::vector<std::string> SweepConfig::AllSchemes() const {
  std::vector<std::string> all = {baseline};
  all.insert(all.end(), schemes.begin(), schemes.end());
  return all;
}
std::string SweepConfig::RequestsPath() const { return (fs::path(output) / "requests.h5").string(); }
std::string SweepConfig::RunPath(const std::string& scheme) const {
  return (fs::path(output) / "runs" / (scheme + ".h5")).string();
}
std::string SweepConfig::MetricsPath() const { return (fs::path(output) / "metrics.h5").string(); }
std::string SweepConfig::ReportDir() const { return (fs::path(output) / "report").string(); }
std::string SweepConfig::RecommendedPath() const { return (fs::path(output) / "recommended.yaml").string(); }

namespace {

// One entry of `schemes`: a name, or {name, scheme, overrides} (a partially
// quantized model).
absl::Status ParseSchemeEntry(const Reader& rd, const YAML::Node& e, SweepConfig& c) {
  if (e.IsScalar()) {
    // Resolved now: a typo fails at load (prepare, plan, submit), not when
    // an array task reaches it hours later.
    const std::string name = e.as<std::string>();
    if (auto spec = ParseScheme(name); !spec.ok()) return rd.Error(e, "schemes", std::string(spec.status().message()));
    c.schemes.push_back(name);
    return absl::OkStatus();
  }
  QSWEEP_RETURN_IF_ERROR(
      rd.Keys(e, "schemes", {"name", "scheme", "overrides", "batch_tokens", "reduction", "checkpoint"}));
  std::string name;
  QSWEEP_RETURN_IF_ERROR(rd.Get(e, "name", &name, true, "schemes"));
  // The name becomes a file name (runs/NAME.h5) and an sbatch argument.
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                          std::string::npos || name[0] == '.')
    return rd.Error(e["name"], "schemes.name", "'" + name + "': use letters, digits, '.', '_' and '-'");
  std::string checkpoint;
  if (e["checkpoint"]) {
    QSWEEP_RETURN_IF_ERROR(rd.Get(e, "checkpoint", &checkpoint, true, "schemes." + name));
    if (checkpoint.empty() || checkpoint.starts_with("synthetic:"))
      return rd.Error(e["checkpoint"], "schemes." + name + ".checkpoint",
                      "'" + checkpoint + "': a .gguf file or a GPTQ/AWQ checkpoint (safetensors)");
    if (e["overrides"])
      return rd.Error(e, "schemes." + name, "a checkpoint entry takes its formats from the file: no overrides");
    c.entry_checkpoint[name] = rd.Resolve(checkpoint);
    if (!e["scheme"]) c.entry_stored_formats.insert(name);
  }
  if (!e["scheme"] && checkpoint.empty()) return rd.Error(e, "schemes." + name + ".scheme", "missing (the base scheme)");
  YAML::Node spec;
  spec["scheme"] = e["scheme"] ? e["scheme"] : YAML::Node("bf16");
  if (e["overrides"]) spec["overrides"] = e["overrides"];
  YAML::Emitter out;
  out << spec;
  auto parsed = SchemeFromYaml(out.c_str());
  if (!parsed.ok()) return rd.Error(e, "schemes." + name, std::string(parsed.status().message()));
  c.schemes.push_back(name);
  c.scheme_specs[name] = SchemeToYaml(*parsed);
  SweepConfig::EntryScoring scoring;
  if (e["batch_tokens"]) {
    int64_t tokens = 0;
    QSWEEP_RETURN_IF_ERROR(rd.Get(e, "batch_tokens", &tokens, true, "schemes." + name));
    if (tokens < 16) return rd.Error(e["batch_tokens"], "schemes." + name + ".batch_tokens", "must be >= 16");
    scoring.batch_tokens = tokens;
  }
  if (e["reduction"]) {
    Reduction r = c.reduction;
    QSWEEP_RETURN_IF_ERROR(rd.GetName(e, "reduction", &r, "schemes." + name));
    scoring.reduction = r;
  }
  if (scoring.batch_tokens || scoring.reduction) c.entry_scoring[name] = scoring;
  return absl::OkStatus();
}

absl::Status ParseSchemes(const Reader& rd, const YAML::Node& root, SweepConfig& c) {
  const YAML::Node schemes = root["schemes"];
  if (!schemes) return rd.Error(root, "schemes", "missing");
  if (!schemes.IsSequence()) return rd.Error(schemes, "schemes", "expected a list");
  for (const YAML::Node& e : schemes) QSWEEP_RETURN_IF_ERROR(ParseSchemeEntry(rd, e, c));
  return absl::OkStatus();
}

// A layer-sensitivity sweep: one named entry per (layer, projection type),
// each quantizing only that part of the dense baseline; the report draws
// them as a heatmap (report/layer_sensitivity.h).
absl::Status ParseSensitivity(const Reader& rd, const YAML::Node& s, SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(rd.Keys(s, "sensitivity", {"format", "layers", "projections"}));
  if (c.baseline != "bf16" && c.baseline != "fp16" && c.baseline != "fp32")
    return rd.Error(s, "sensitivity", "needs a dense baseline (bf16, fp16 or fp32), not '" + c.baseline + "'");
  std::string format, layers;
  std::vector<std::string> projections = ProjectionTypes();
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "format", &format, true, "sensitivity"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "layers", &layers, true, "sensitivity"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "projections", &projections, false, "sensitivity"));
  // A closed range: each layer becomes entries, so "A-" (to the end) is refused.
  const auto range = ParseLayerRange(layers);
  if (!range.ok() || range->second < 0 || range->second - range->first >= 1024)
    return rd.Error(s["layers"], "sensitivity.layers", "'" + layers + "': expected A-B or A (0 <= A <= B)");
  // Every string is checked before it names anything: a projection becomes
  // part of a run's file name, so only the seven projection types pass.
  const std::vector<std::string>& kTypes = ProjectionTypes();
  for (const std::string& p : projections)
    if (std::find(kTypes.begin(), kTypes.end(), p) == kTypes.end())
      return rd.Error(s["projections"], "sensitivity.projections",
                      "'" + p + "' is not a projection type (q k v o gate up down)");
  auto base = ParseScheme(c.baseline);
  auto cell = ParseScheme(format);
  if (!base.ok()) return rd.Error(s, "sensitivity", std::string(base.status().message()));
  if (!cell.ok()) return rd.Error(s["format"], "sensitivity.format", std::string(cell.status().message()));
  if (cell->method != Method::kRtn)
    return rd.Error(s["format"], "sensitivity.format", "'" + format + "': a method suffix belongs to the base scheme");
  for (int64_t l = range->first; l <= range->second; ++l)
    for (const std::string& p : projections) {
      const std::string name = absl::StrFormat("L%d-%s", l, p);
      SchemeSpec spec = *base;
      spec.rules.push_back({.first_layer = l, .last_layer = l, .projections = {p}, .scheme = cell->base,
                            .format = cell->format});
      c.schemes.push_back(name);
      c.scheme_specs[name] = SchemeToYaml(spec);
    }
  return absl::OkStatus();
}

// After the schemes and the sensitivity: the prices need both uniform runs,
// the qualities the sensitivity runs of `format`.
absl::Status ParseRecommend(const Reader& rd, const YAML::Node& r, const YAML::Node& sensitivity, SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(rd.Keys(r, "recommend", {"budget_bpw", "format", "keep"}));
  SweepConfig::Recommendation rec;
  QSWEEP_RETURN_IF_ERROR(rd.Get(r, "budget_bpw", &rec.budget_bpw, true, "recommend"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(r, "format", &rec.format, true, "recommend"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(r, "keep", &rec.keep, true, "recommend"));
  if (!(rec.budget_bpw > 0 && rec.budget_bpw <= 32))
    return rd.Error(r["budget_bpw"], "recommend.budget_bpw", "must be in (0, 32] bits per weight");
  for (const std::string* f : {&rec.format, &rec.keep})
    if (std::find(c.schemes.begin(), c.schemes.end(), *f) == c.schemes.end())
      return rd.Error(r, "recommend", "'" + *f + "' must be one of the schemes, as a uniform run (its size prices the layers)");
  std::string sensitivity_format;
  if (sensitivity && sensitivity["format"]) sensitivity_format = sensitivity["format"].as<std::string>("");
  if (sensitivity_format != rec.format)
    return rd.Error(r, "recommend", "needs the sensitivity key with format " + rec.format +
                                        " (each layer's KL at that format): sensitivity: {format: " + rec.format +
                                        ", layers: 0-N}");
  c.recommend = rec;
  return absl::OkStatus();
}

absl::Status ParseCalibration(const Reader& rd, const YAML::Node& cal, SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(rd.Keys(cal, "calibration", {"path", "sequences", "length", "seed"}));
  CalibrationSource s;
  QSWEEP_RETURN_IF_ERROR(rd.Get(cal, "path", &s.path, true, "calibration"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(cal, "sequences", &s.sequences, false, "calibration"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(cal, "length", &s.length, false, "calibration"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(cal, "seed", &s.seed, false, "calibration"));
  if (s.sequences < 1 || s.length < 2) return rd.Error(cal, "calibration", "need sequences >= 1 and length >= 2");
  s.path = rd.Resolve(s.path);
  c.calibration = s;
  return absl::OkStatus();
}

absl::Status ParseParallel(const Reader& rd, const YAML::Node& p, SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(rd.Keys(p, "parallel", {"tp", "backend", "reduction"}));
  QSWEEP_RETURN_IF_ERROR(rd.Get(p, "tp", &c.tp, false, "parallel"));
  QSWEEP_RETURN_IF_ERROR(rd.GetName(p, "reduction", &c.reduction, "parallel"));
  QSWEEP_RETURN_IF_ERROR(rd.GetName(p, "backend", &c.backend, "parallel"));
  if (c.tp < 1) return rd.Error(p, "parallel.tp", "must be >= 1");
  return absl::OkStatus();
}

absl::Status ParseScoring(const Reader& rd, const YAML::Node& s, SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(rd.Keys(s, "scoring", {"topk", "full_logprobs", "batch_tokens", "samples_per_unit",
                                                "windows_per_unit", "add_bos", "exact_token_stats"}));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "topk", &c.topk, false, "scoring"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "exact_token_stats", &c.exact_token_stats, false, "scoring"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "full_logprobs", &c.full_logprobs, false, "scoring"));
  const bool auto_batch = s["batch_tokens"] && s["batch_tokens"].IsScalar() && s["batch_tokens"].Scalar() == "auto";
  if (!auto_batch) QSWEEP_RETURN_IF_ERROR(rd.Get(s, "batch_tokens", &c.batch_tokens, false, "scoring"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "samples_per_unit", &c.samples_per_unit, false, "scoring"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "windows_per_unit", &c.windows_per_unit, false, "scoring"));
  QSWEEP_RETURN_IF_ERROR(rd.Get(s, "add_bos", &c.add_bos, false, "scoring"));
  // Upper bounds too: each sizes an allocation (top-k lists of every row,
  // a unit's results, a batch's activations) before anything checks it.
  if (c.topk < 1 || c.topk > 64 || c.batch_tokens < 16 || c.batch_tokens > (int64_t{1} << 24) ||
      c.samples_per_unit < 1 || c.samples_per_unit > 1000000 || c.windows_per_unit < 1 || c.windows_per_unit > 100000)
    return rd.Error(s, "scoring",
                    "topk in [1, 64], samples_per_unit in [1, 10^6], windows_per_unit in [1, 10^5] and batch_tokens "
                    "in [16, 2^24] (or auto)");
  if (auto_batch) c.batch_tokens = 0;  // as many as the device's free memory holds (DecoderOptions)
  return absl::OkStatus();
}

// `names` holds the task and corpus names seen so far (they share one space).
absl::Status ParseTasks(const Reader& rd, const YAML::Node& tasks, SweepConfig& c, std::set<std::string>& names) {
  if (!tasks.IsSequence()) return rd.Error(tasks, "tasks", "expected a list");
  for (const YAML::Node& t : tasks) {
    QSWEEP_RETURN_IF_ERROR(rd.Keys(t, "tasks[]", {"name", "format", "path", "fewshot", "limit", "max_tokens"}));
    TaskSource s;
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "name", &s.name, true, "tasks[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "format", &s.format, false, "tasks[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "path", &s.path, true, "tasks[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "fewshot", &s.fewshot, false, "tasks[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "limit", &s.limit, false, "tasks[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "max_tokens", &s.max_tokens, false, "tasks[]"));
    if (t["max_tokens"] && !s.generative())
      return rd.Error(t["max_tokens"], "tasks[].max_tokens", "only generative tasks (formats gen-jsonl, gsm8k) generate");
    if (s.max_tokens < 1 || s.max_tokens > 4096)
      return rd.Error(t["max_tokens"], "tasks[].max_tokens", absl::StrFormat("%d: must be in [1, 4096]", s.max_tokens));
    if (s.limit < 0) return rd.Error(t["limit"], "tasks[].limit", "must be 0 (all) or more");
    if (!names.insert(s.name).second) return rd.Error(t, "tasks[].name", "duplicate '" + s.name + "'");
    s.path = rd.Resolve(s.path);
    c.tasks.push_back(s);
  }
  return absl::OkStatus();
}

absl::Status ParseCorpora(const Reader& rd, const YAML::Node& corpora, SweepConfig& c,
                          std::set<std::string>& names) {
  if (!corpora.IsSequence()) return rd.Error(corpora, "corpora", "expected a list");
  for (const YAML::Node& t : corpora) {
    QSWEEP_RETURN_IF_ERROR(rd.Keys(t, "corpora[]", {"name", "path", "window", "stride"}));
    CorpusSource s;
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "name", &s.name, true, "corpora[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "path", &s.path, true, "corpora[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "window", &s.window, false, "corpora[]"));
    QSWEEP_RETURN_IF_ERROR(rd.Get(t, "stride", &s.stride, false, "corpora[]"));
    if (!names.insert(s.name).second) return rd.Error(t, "corpora[].name", "duplicate '" + s.name + "'");
    if (s.window < 2 || s.stride < 1 || s.stride >= s.window)
      return rd.Error(t, "corpora[]", "need window >= 2 and 1 <= stride < window");
    s.path = rd.Resolve(s.path);
    c.corpora.push_back(s);
  }
  return absl::OkStatus();
}

}  // namespace

namespace {
absl::StatusOr<SweepConfig> ParseSweepConfigNode(const YAML::Node& root, const std::string& text,
                                                 const std::string& path);
}  // namespace

// A value of the wrong YAML type that a reader converts anyway makes
// yaml-cpp throw: one error naming the file and the line, never an abort.
absl::StatusOr<SweepConfig> ParseSweepConfig(const std::string& text, const std::string& path) {
  try {
    return ParseSweepConfigNode(YAML::Load(text), text, path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d: invalid YAML: %s", path, e.mark.line + 1, e.msg));
  }
}

namespace {

absl::StatusOr<SweepConfig> ParseSweepConfigNode(const YAML::Node& root, const std::string& text,
                                                 const std::string& path) {
  Reader rd(path);
  QSWEEP_RETURN_IF_ERROR(rd.Keys(root, "", {"name", "model", "tokenizer", "parallel", "baseline", "schemes", "tasks",
                                            "corpora", "output", "scoring", "calibration", "slurm", "sensitivity",
                                            "recommend"}));
  SweepConfig c;
  c.path = path;
  c.yaml = text;
  QSWEEP_RETURN_IF_ERROR(rd.Get(root, "name", &c.name, true));
  QSWEEP_RETURN_IF_ERROR(rd.Get(root, "model", &c.model, true));
  QSWEEP_RETURN_IF_ERROR(rd.Get(root, "tokenizer", &c.tokenizer, false));
  QSWEEP_RETURN_IF_ERROR(rd.Get(root, "baseline", &c.baseline, false));
  if (auto spec = ParseScheme(c.baseline); !spec.ok())
    return rd.Error(root["baseline"] ? root["baseline"] : root, "baseline", std::string(spec.status().message()));
  QSWEEP_RETURN_IF_ERROR(ParseSchemes(rd, root, c));
  if (root["sensitivity"]) QSWEEP_RETURN_IF_ERROR(ParseSensitivity(rd, root["sensitivity"], c));
  if (root["recommend"]) QSWEEP_RETURN_IF_ERROR(ParseRecommend(rd, root["recommend"], root["sensitivity"], c));
  QSWEEP_RETURN_IF_ERROR(rd.Get(root, "output", &c.output, true));
  // An empty folder would resolve to the config's own: the runs would land
  // beside the user's files.
  if (c.output.empty()) return rd.Error(root["output"], "output", "empty: name the folder for the runs and metrics");
  if (root["calibration"]) QSWEEP_RETURN_IF_ERROR(ParseCalibration(rd, root["calibration"], c));
  if (root["parallel"]) QSWEEP_RETURN_IF_ERROR(ParseParallel(rd, root["parallel"], c));
  if (root["slurm"]) {
    QSWEEP_RETURN_IF_ERROR(rd.Keys(root["slurm"], "slurm", {"args"}));
    QSWEEP_RETURN_IF_ERROR(rd.Get(root["slurm"], "args", &c.slurm_args, false, "slurm"));
    // Only options that say where and how long the jobs run: none that
    // changes what they run (--wrap runs a shell command), where their logs
    // go or what they wait for, which qsweep sets itself.
    static const char* const kAllowed[] = {
        "--partition=", "--time=", "--account=", "--qos=", "--gres=", "--gpus=", "--gpus-per-node=",
        "--gpus-per-task=", "--mem=", "--mem-per-cpu=", "--mem-per-gpu=", "--constraint=", "--nodes=",
        "--cpus-per-task=", "--ntasks-per-node=", "--reservation=", "--nodelist=", "--exclude=", "--mail-type=",
        "--mail-user=", "--comment=", "--signal=", "--clusters=", "--exclusive", "--requeue", "--no-requeue"};
    for (const std::string& a : c.slurm_args) {
      bool ok = false;
      for (const char* allowed : kAllowed) {
        const std::string_view w(allowed);
        ok = ok || (w.back() == '=' ? a.starts_with(w) && a.size() > w.size() : a == w);
      }
      if (!ok)
        return rd.Error(root["slurm"]["args"], "slurm.args",
                        "'" + a + "' is not allowed: only --partition=, --time=, --account=, --qos=, --gres=, "
                        "--gpus*=, --mem*=, --constraint=, --nodes=, --cpus-per-task=, --ntasks-per-node=, "
                        "--reservation=, --nodelist=, --exclude=, --mail-type=, --mail-user=, --comment=, "
                        "--signal=, --clusters=, --exclusive, --requeue, --no-requeue (in --option=value form)");
    }
  }
  if (root["scoring"]) QSWEEP_RETURN_IF_ERROR(ParseScoring(rd, root["scoring"], c));
  std::set<std::string> names;
  if (root["tasks"]) QSWEEP_RETURN_IF_ERROR(ParseTasks(rd, root["tasks"], c, names));
  if (root["corpora"]) QSWEEP_RETURN_IF_ERROR(ParseCorpora(rd, root["corpora"], c, names));
  if (c.tasks.empty() && c.corpora.empty()) return rd.Error(root, "tasks", "no tasks and no corpora");
  std::set<std::string> schemes;
  for (const std::string& s : c.AllSchemes())
    if (!schemes.insert(s).second)
      return rd.Error(root["schemes"], "schemes", "'" + s + "' appears twice (the baseline counts)");
  // A calibrated scheme without calibration data would stop at its first
  // projection: say so now, by name.
  for (const std::string& s : c.AllSchemes()) {
    auto spec = ResolveScheme(c.SchemeText(s));
    if (spec.ok() && spec->method != Method::kRtn && !c.calibration)
      return rd.Error(root, "calibration", "missing: scheme '" + s + "' is calibrated (" + MethodName(*spec) +
                                               "); add calibration: {path: corpus.txt, sequences: 128, length: 2048}");
  }
  c.tokenizer = rd.Resolve(c.tokenizer.empty() ? c.model : c.tokenizer);
  c.model = rd.Resolve(c.model);
  c.output = rd.Resolve(c.output);
  return c;
}

}  // namespace

absl::StatusOr<std::string> AddRecommendedEntry(SweepConfig& c) {
  const std::string path = c.RecommendedPath();
  if (!c.recommend || !fs::exists(path)) return std::string();
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the recommended scheme entry"));
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  Reader rd(path);
  YAML::Node e;
  try {
    e = YAML::Load(ss.str());
  } catch (const YAML::Exception& ex) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d: invalid YAML: %s", path, ex.mark.line + 1, ex.msg));
  }
  if (!e.IsMap() || !e["name"] || e["name"].as<std::string>("").rfind("mixed-", 0) != 0)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not a recommended entry ({name: mixed-..., scheme: ..., overrides: [...]}); delete it to choose again",
        path));
  const std::string name = e["name"].as<std::string>();
  if (std::find(c.schemes.begin(), c.schemes.end(), name) == c.schemes.end())
    QSWEEP_RETURN_IF_ERROR(ParseSchemeEntry(rd, e, c));
  return name;
}

absl::StatusOr<SweepConfig> LoadSweepConfig(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the sweep config"));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the sweep config", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseSweepConfig(ss.str(), path);
}

}  // namespace qsweep
