#include "model/safetensors_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/content_hash.h"
#include "model/content_id_cache.h"
#include "model/lazy_content_id.h"
#include "model/gptq_awq_weights.h"
#include "model/hf_config.h"
#include "model/mapped_file.h"
#include "model/tensor_slice.h"
#include "core/input_file.h"

namespace qsweep {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Headers beyond this are not safetensors files (the format's own limit is
// 100 MB); refusing them early keeps a corrupt length from driving a parse.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct Entry {
  std::optional<DType> dtype;  // unset for dtypes we do not know
  std::string dtype_name;
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;  // within the data region
};

struct SafetensorsFile {
  std::unique_ptr<MappedFile> map;
  int64_t header_bytes = 0;
  int64_t data_start = 0;  // 8 + header_bytes
  std::map<std::string, Entry> entries;
  const std::string& path() const { return map->path(); }
};

absl::Status Corrupt(const std::string& file, const std::string& what) {
  return absl::DataLossError(absl::StrFormat("%s: %s", file, what));
}

absl::StatusOr<Entry> ParseEntry(const std::string& file, const std::string& name,
                                 const json& v) {
  auto bad = [&](const std::string& why) {
    return Corrupt(file, absl::StrFormat("tensor '%s': %s", name, why));
  };
  if (!v.is_object()) return bad("header entry is not an object");
  Entry e;
  if (!v.contains("dtype") || !v["dtype"].is_string()) return bad("missing string 'dtype'");
  e.dtype_name = v["dtype"].get<std::string>();
  if (auto t = ParseDType(e.dtype_name); t.ok()) e.dtype = *t;
  if (!v.contains("shape") || !v["shape"].is_array()) return bad("missing array 'shape'");
  for (const auto& d : v["shape"]) {
    if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
      return bad("shape holds a non-integer or negative dimension");
    const uint64_t x = d.get<uint64_t>();
    if (x > (uint64_t{1} << 40)) return bad("shape dimension is implausibly large");
    e.shape.push_back(static_cast<int64_t>(x));
  }
  if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
      v["data_offsets"].size() != 2 || !v["data_offsets"][0].is_number_unsigned() ||
      !v["data_offsets"][1].is_number_unsigned())
    return bad("'data_offsets' must be two non-negative integers");
  const uint64_t b = v["data_offsets"][0].get<uint64_t>(), en = v["data_offsets"][1].get<uint64_t>();
  if (b > en) return bad(absl::StrFormat("data_offsets [%d, %d] run backwards", b, en));
  if (en > (uint64_t{1} << 62)) return bad("data_offsets are implausibly large");
  e.begin = static_cast<int64_t>(b);
  e.end = static_cast<int64_t>(en);
  return e;
}

absl::StatusOr<SafetensorsFile> ReadSafetensorsHeader(const std::string& path) {
  SafetensorsFile f;
  QSWEEP_ASSIGN_OR_RETURN(f.map, MappedFile::Open(path));
  const int64_t size = f.map->size();
  if (size < 8)
    return Corrupt(path, absl::StrFormat("truncated: %d bytes, too short for the 8-byte header "
                                         "length",
                                         size));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | f.map->data()[i];  // little-endian
  if (n > static_cast<uint64_t>(size - 8))
    return Corrupt(path, absl::StrFormat("truncated: header says %d bytes but file has %d", n,
                                         size));
  if (n > kMaxHeaderBytes)
    return Corrupt(path, absl::StrFormat("header length %d is beyond the format's limit", n));
  f.header_bytes = static_cast<int64_t>(n);
  f.data_start = 8 + f.header_bytes;
  const int64_t data_bytes = size - f.data_start;

  json header;
  try {
    header = json::parse(f.map->data() + 8, f.map->data() + 8 + n);
  } catch (const json::exception& e) {  // a syntax error, or a number too large for a double
    return Corrupt(path, absl::StrFormat("header is not valid JSON: %s", e.what()));
  }
  if (!header.is_object()) return Corrupt(path, "header is not a JSON object");

  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    QSWEEP_ASSIGN_OR_RETURN(Entry e, ParseEntry(path, name, v));
    if (e.end > data_bytes)
      return Corrupt(path, absl::StrFormat("truncated: tensor '%s' has data_offsets [%d, %d] but "
                                           "the data region holds only %d bytes",
                                           name, e.begin, e.end, data_bytes));
    if (e.dtype) {
      int64_t bytes = DTypeBytes(*e.dtype);
      for (int64_t d : e.shape)
        if (__builtin_mul_overflow(bytes, d, &bytes))
          return Corrupt(path, absl::StrFormat("tensor '%s': shape %s overflows", name,
                                               FormatShape(e.shape)));
      if (bytes != e.end - e.begin)
        return Corrupt(path, absl::StrFormat("tensor '%s' has dtype %s and shape %s (%d bytes) "
                                             "but its data_offsets [%d, %d] span %d bytes",
                                             name, e.dtype_name, FormatShape(e.shape), bytes,
                                             e.begin, e.end, e.end - e.begin));
    }
    f.entries.emplace(name, std::move(e));
  }

  // No two tensors may share bytes: overlapping regions mean a corrupt header.
  std::vector<std::pair<const std::string*, const Entry*>> order;
  for (const auto& [name, e] : f.entries)
    if (e.end > e.begin) order.emplace_back(&name, &e);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i].second->begin < order[i - 1].second->end)
      return Corrupt(path, absl::StrFormat("tensors '%s' and '%s' overlap in the data region",
                                           *order[i - 1].first, *order[i].first));
  // The tensors tile the data region exactly, as the format's reference
  // reader requires: a gap or a tail means the header's length or offsets
  // are off (a header length one byte short shifts every tensor, and its
  // values read as garbage).
  int64_t at = 0;
  for (const auto& [name, e] : order) {
    if (e->begin != at)
      return Corrupt(path, absl::StrFormat("tensor '%s' starts at byte %d of the data region, where the tensors "
                                           "before it end at %d (a gap: the header's offsets or length are off)",
                                           *name, e->begin, at));
    at = e->end;
  }
  if (at != data_bytes)
    return Corrupt(path, absl::StrFormat("the tensors cover %d bytes of a %d-byte data region (the header's length "
                                         "or the file's size is off)", at, data_bytes));
  return f;
}

absl::StatusOr<json> ReadJsonFile(const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "a JSON file of the checkpoint"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::parse_error& e) {
    return Corrupt(path, absl::StrFormat("not valid JSON: %s", e.what()));
  }
}

// Where the files of a checkpoint are, from what the user named.
struct Layout {
  std::string config_path;
  std::string index_path;               // empty unless sharded
  std::vector<std::string> shard_paths;  // one file when not sharded
};

absl::StatusOr<Layout> FindLayout(const std::string& spec) {
  Layout l;
  const fs::path p(spec);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    l.config_path = (p / "config.json").string();
    if (fs::exists(p / "model.safetensors.index.json", ec)) {
      l.index_path = (p / "model.safetensors.index.json").string();
    } else if (fs::exists(p / "model.safetensors", ec)) {
      l.shard_paths = {(p / "model.safetensors").string()};
    } else {
      return absl::NotFoundError(absl::StrFormat(
          "%s: no model.safetensors or model.safetensors.index.json in the directory", spec));
    }
  } else {
    l.config_path = (p.parent_path() / "config.json").string();
    if (absl::EndsWith(spec, ".index.json")) {
      l.index_path = spec;
    } else {
      l.shard_paths = {spec};
    }
  }
  if (!fs::exists(l.config_path, ec))
    return absl::NotFoundError(
        absl::StrFormat("%s: missing config.json (expected at %s)", spec, l.config_path));
  return l;
}

struct Location {
  const SafetensorsFile* file;
  const Entry* entry;
  // A GPTQ/AWQ layer (entry is its qweight): where the rest of it is.
  std::optional<PackedIntTensors> packed = std::nullopt;
  int64_t packed_bytes = 0;
};

// compressed-tensors (llm-compressor): the "pack-quantized" format of
// weight-only integer schemes, one scheme for every quantized layer (its
// config_groups' weights), per group or per channel.
template <class Bad>
absl::StatusOr<std::optional<PackedIntFormat>> CompressedTensorsFormat(const json& q, const Bad& bad) {
  const std::string format = q.contains("format") && q["format"].is_string() ? q["format"].get<std::string>() : "";
  if (format != "pack-quantized") return bad("compressed-tensors format '" + format + "' (only pack-quantized is read)");
  if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].empty())
    return bad("no config_groups");
  std::optional<PackedIntFormat> f;
  for (const auto& [name, group] : q["config_groups"].items()) {
    if (!group.is_object() || !group.contains("weights") || !group["weights"].is_object())
      return bad("config_groups." + name + " has no weights");
    if (group.contains("input_activations") && !group["input_activations"].is_null())
      return bad("config_groups." + name + " quantizes activations (only weight-only schemes are read)");
    const json& w = group["weights"];
    if (!w.contains("type") || w["type"] != "int") return bad("config_groups." + name + ".weights is not of type int");
    if (!w.contains("num_bits") || !w["num_bits"].is_number_integer())
      return bad("config_groups." + name + ".weights has no integer num_bits");
    PackedIntFormat g;
    g.method = PackedIntMethod::kCompressed;
    g.zero_plus_one = false;
    g.bits = w["num_bits"].get<int>();
    g.symmetric = !w.contains("symmetric") || (w["symmetric"].is_boolean() && w["symmetric"].get<bool>());
    const std::string strategy = w.contains("strategy") && w["strategy"].is_string() ? w["strategy"].get<std::string>() : "";
    if (strategy == "channel") {
      g.group = -1;
    } else if (strategy == "group" && w.contains("group_size") && w["group_size"].is_number_integer()) {
      g.group = w["group_size"].get<int64_t>();
    } else {
      return bad("config_groups." + name + ".weights strategy '" + strategy + "' (group with a group_size, or channel)");
    }
    if (f && (f->bits != g.bits || f->symmetric != g.symmetric || f->group != g.group))
      return bad("config_groups differ in their weights (one scheme for every layer is read)");
    f = g;
  }
  return f;
}

// config.json's quantization_config: GPTQ, AWQ or compressed-tensors packed
// int weights.
absl::StatusOr<std::optional<PackedIntFormat>> PackedIntFormatOf(const std::string& config_path) {
  QSWEEP_ASSIGN_OR_RETURN(json config, ReadJsonFile(config_path));
  if (!config.is_object() || !config.contains("quantization_config")) return std::nullopt;
  const json& q = config["quantization_config"];
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: quantization_config: %s", config_path, why));
  };
  if (!q.is_object() || !q.contains("quant_method") || !q["quant_method"].is_string())
    return bad("no quant_method");
  const std::string method = q["quant_method"].get<std::string>();
  PackedIntFormat f;
  if (method == "gptq") {
    f.method = PackedIntMethod::kGptq;
    const std::string version =
        q.contains("checkpoint_format") && q["checkpoint_format"].is_string() ? q["checkpoint_format"].get<std::string>() : "gptq";
    if (version != "gptq" && version != "gptq_v2") return bad("checkpoint_format '" + version + "' is not gptq or gptq_v2");
    f.zero_plus_one = version == "gptq";
  } else if (method == "awq") {
    f.method = PackedIntMethod::kAwq;
    f.zero_plus_one = false;
    const std::string version = q.contains("version") && q["version"].is_string() ? q["version"].get<std::string>() : "gemm";
    if (version != "gemm" && version != "GEMM") return bad("AWQ version '" + version + "' (only GEMM packing is read)");
  } else if (method == "compressed-tensors") {
    return CompressedTensorsFormat(q, bad);
  } else {
    return bad("quant_method '" + method + "' is not supported (gptq, awq and compressed-tensors are)");
  }
  if (!q.contains("bits") || !q["bits"].is_number_integer()) return bad("no integer 'bits'");
  f.bits = q["bits"].get<int>();
  const char* group_key = method == "awq" && q.contains("q_group_size") ? "q_group_size" : "group_size";
  if (!q.contains(group_key) || !q[group_key].is_number_integer()) return bad(std::string("no integer '") + group_key + "'");
  f.group = q[group_key].get<int64_t>();  // -1: one group per row, set per layer
  return f;
}

class SafetensorsCheckpoint : public Checkpoint {
 public:
  const std::string& source() const override { return source_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string content_id() const override { return content_id_.Get(); }
  std::vector<std::string> ignored_tensors() const override { return ignored_; }
  std::vector<StoredFormat> stored_formats() const override {
    std::vector<StoredFormat> out;
    bool any = false;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Location& l = locations_[i];
      any = any || l.packed;
      out.push_back({tensors_[i].name, l.packed ? packed_formats_[i].Describe() : std::string(DTypeName(tensors_[i].dtype)),
                     l.packed ? l.packed_bytes : l.entry->end - l.entry->begin});
    }
    return any ? out : std::vector<StoredFormat>{};
  }

  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override;
  absl::Status ReadBlockBF16(std::string_view name, int64_t row_begin, int64_t row_end, int64_t col_begin,
                             int64_t col_end, std::span<uint16_t> out) const override;
  // GPTQ and AWQ layers as qsweep's asymmetric int formats (PackedIntRows).
  absl::StatusOr<std::optional<QuantizedWeights>> ReadStoredRows(std::string_view name, int64_t begin,
                                                                 int64_t end) const override {
    QSWEEP_ASSIGN_OR_RETURN(const TensorSlice sl, ResolveRows(*this, name, begin, end));
    const size_t index = static_cast<size_t>(sl.info - tensors_.data());
    if (!locations_[index].packed) return std::nullopt;
    return PackedIntRows(packed_formats_[index], *locations_[index].packed, sl.rows, sl.cols, begin, end);
  }

  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& spec);

 private:
  std::string source_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::vector<Location> locations_;  // parallel to tensors_
  std::vector<PackedIntFormat> packed_formats_;  // parallel to tensors_ (used where packed)
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::string> ignored_;
  LazyContentId content_id_;
};

absl::StatusOr<std::unique_ptr<Checkpoint>> SafetensorsCheckpoint::Open(const std::string& spec) {
  QSWEEP_ASSIGN_OR_RETURN(Layout layout, FindLayout(spec));
  auto ck = std::make_unique<SafetensorsCheckpoint>();
  ck->source_ = spec;
  QSWEEP_ASSIGN_OR_RETURN(ck->config_, LoadHfConfig(layout.config_path));

  // name -> the file that holds it (an index's weight_map, or the one file).
  std::map<std::string, const SafetensorsFile*> where;
  std::string listing;  // the file that lists the tensors, for "missing" errors
  if (!layout.index_path.empty()) {
    listing = layout.index_path;
    QSWEEP_ASSIGN_OR_RETURN(json index, ReadJsonFile(layout.index_path));
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return Corrupt(layout.index_path, "missing object 'weight_map'");
    const fs::path dir = fs::path(layout.index_path).parent_path();
    std::map<std::string, const SafetensorsFile*> by_shard;
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string())
        return Corrupt(layout.index_path,
                       absl::StrFormat("weight_map['%s'] is not a file name", name));
      const std::string shard_name = shard.get<std::string>();
      if (shard_name.empty() || absl::StrContains(shard_name, "/") ||
          absl::StrContains(shard_name, ".."))
        return Corrupt(layout.index_path,
                       absl::StrFormat("weight_map['%s'] names '%s', not a file beside the index",
                                       name, shard_name));
      auto it = by_shard.find(shard_name);
      if (it == by_shard.end()) {
        QSWEEP_ASSIGN_OR_RETURN(SafetensorsFile f,
                                ReadSafetensorsHeader((dir / shard_name).string()));
        ck->files_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
        it = by_shard.emplace(shard_name, ck->files_.back().get()).first;
      }
      if (!it->second->entries.count(name))
        return Corrupt(it->second->path(),
                       absl::StrFormat("tensor '%s' listed in %s is not in the file", name,
                                       layout.index_path));
      where[name] = it->second;
    }
  } else {
    listing = layout.shard_paths[0];
    QSWEEP_ASSIGN_OR_RETURN(SafetensorsFile f, ReadSafetensorsHeader(layout.shard_paths[0]));
    ck->files_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
    for (const auto& [name, e] : ck->files_[0]->entries) where[name] = ck->files_[0].get();
  }

  QSWEEP_ASSIGN_OR_RETURN(const std::optional<PackedIntFormat> packed, PackedIntFormatOf(layout.config_path));
  for (const auto& want : ExpectedTensors(ck->config_)) {
    // A packed layer: <prefix>.qweight, .qzeros, .scales (and .g_idx) for
    // <prefix>.weight (compressed-tensors: .weight_packed, .weight_zero_point,
    // .weight_scale, .weight_shape, .weight_g_idx).
    const std::string prefix = want.name.substr(0, want.name.size() - std::string_view(".weight").size());
    const bool ct = packed && packed->method == PackedIntMethod::kCompressed;
    const std::string codes_suffix = ct ? ".weight_packed" : ".qweight";
    if (packed && want.shape.size() == 2 && absl::EndsWith(want.name, "proj.weight") && !where.count(want.name) &&
        where.count(prefix + codes_suffix)) {
      PackedIntFormat f = *packed;
      const int64_t out = want.shape[0], in = want.shape[1];
      if (f.group == -1) f.group = in;
      QSWEEP_RETURN_IF_ERROR(CheckPackedIntLayer(f, out, in, listing + ": " + want.name));
      const PackedIntShapes shapes = ExpectedPackedIntShapes(f, out, in);
      Location loc{nullptr, nullptr};
      PackedIntTensors t;
      struct Part {
        std::string suffix;
        std::vector<int64_t> shape;
        std::vector<DType> dtypes;
        const uint8_t** data;
      };
      std::vector<Part> parts = {{codes_suffix, {shapes.qweight[0], shapes.qweight[1]}, {DType::kI32}, &t.qweight}};
      if (!(ct && f.symmetric))
        parts.push_back({ct ? ".weight_zero_point" : ".qzeros", {shapes.qzeros[0], shapes.qzeros[1]}, {DType::kI32},
                         &t.qzeros});
      parts.push_back({ct ? ".weight_scale" : ".scales", {shapes.scales[0], shapes.scales[1]},
                       ct ? std::vector<DType>{DType::kF16, DType::kBF16, DType::kF32} : std::vector<DType>{DType::kF16},
                       &t.scales});
      const uint8_t* shape_data = nullptr;
      if (ct) parts.push_back({".weight_shape", {2}, {DType::kI32}, &shape_data});
      for (const Part& want_part : parts) {
        const std::string name = prefix + want_part.suffix;
        auto part = where.find(name);
        if (part == where.end())
          return absl::NotFoundError(absl::StrFormat("%s: tensor '%s' is missing (%s)", listing, name, f.Describe()));
        const Entry& e = part->second->entries.at(name);
        const bool dtype_ok =
            std::find(want_part.dtypes.begin(), want_part.dtypes.end(), e.dtype) != want_part.dtypes.end();
        if (e.shape != want_part.shape || !dtype_ok)
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s: tensor '%s' is %s %s; %s of %s needs %s %s", part->second->path(), name, e.dtype_name,
              FormatShape(e.shape), f.Describe(), FormatShape(want.shape), DTypeName(want_part.dtypes[0]),
              FormatShape(want_part.shape)));
        *want_part.data = part->second->map->data() + part->second->data_start + e.begin;
        if (want_part.data == &t.qweight) loc = {part->second, &e};
        if (want_part.data == &t.scales) t.scale_dtype = *e.dtype;
        loc.packed_bytes += e.end - e.begin;
        where.erase(part);
      }
      if (shape_data) {
        int32_t dims[2];
        std::memcpy(dims, shape_data, 8);
        if (dims[0] != out || dims[1] != in)
          return absl::InvalidArgumentError(absl::StrFormat("%s: %s.weight_shape is [%d, %d], the config implies [%d, %d]",
                                                            listing, prefix, dims[0], dims[1], out, in));
      }
      const std::string g_idx_name = prefix + (ct ? ".weight_g_idx" : ".g_idx");
      if (auto g = where.find(g_idx_name); g != where.end() && f.method != PackedIntMethod::kAwq) {
        const Entry& e = g->second->entries.at(g_idx_name);
        if (e.shape != std::vector<int64_t>{in} || e.dtype != DType::kI32)
          return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s' is %s %s, not I32 [%d]",
                                                            g->second->path(), g_idx_name, e.dtype_name,
                                                            FormatShape(e.shape), in));
        t.g_idx = g->second->map->data() + g->second->data_start + e.begin;
        QSWEEP_RETURN_IF_ERROR(CheckGroupIndex(f, t.g_idx, in, g->second->path() + ": " + g_idx_name));
        loc.packed_bytes += e.end - e.begin;
        where.erase(g);
      }
      loc.packed = t;
      ck->packed_formats_.push_back(f);
      ck->tensors_.push_back({want.name, DType::kF32, want.shape});
      ck->locations_.push_back(loc);
      continue;
    }
    auto it = where.find(want.name);
    if (it == where.end())
      return absl::NotFoundError(absl::StrFormat(
          "%s: tensor '%s' is missing (the config implies shape %s)", listing, want.name,
          FormatShape(want.shape)));
    const SafetensorsFile* file = it->second;
    const Entry& e = file->entries.at(want.name);
    if (e.shape != want.shape)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tensor '%s' has shape %s but the config implies %s", file->path(), want.name,
          FormatShape(e.shape), FormatShape(want.shape)));
    if (!e.dtype || (*e.dtype != DType::kF32 && *e.dtype != DType::kF16 &&
                     *e.dtype != DType::kBF16))
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 weights can be read",
          file->path(), want.name, e.dtype_name));
    ck->tensors_.push_back({want.name, *e.dtype, want.shape});
    ck->locations_.push_back({file, &e});
    ck->packed_formats_.push_back({});
    where.erase(it);
  }
  for (const auto& [name, file] : where)
    if (!absl::EndsWith(name, "rotary_emb.inv_freq")) ck->ignored_.push_back(name);
  // The storage type is what the files hold, whatever torch_dtype claims.
  ck->config_.dtype = ck->tensors_[0].dtype;
  if (packed) {
    for (const auto& name : ck->ignored_)
      if (absl::EndsWith(name, ".qweight") || absl::EndsWith(name, ".qzeros") || absl::EndsWith(name, ".scales"))
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: '%s' belongs to no layer the config implies (a packed layer of another shape?)", listing, name));
  }

  // The id covers what defines the weights: the config, each header (names,
  // dtypes, shapes, offsets), each file's size, and every weight byte
  // (below).
  ContentHasher h;
  h.Update(std::string_view("safetensors"));
  h.Update(ck->config_);
  std::vector<const SafetensorsFile*> files;
  for (const auto& f : ck->files_) files.push_back(f.get());
  std::sort(files.begin(), files.end(),
            [](auto* a, auto* b) { return a->path() < b->path(); });
  int64_t data_bytes = 0;
  for (const SafetensorsFile* f : files) {
    h.Update(static_cast<uint64_t>(f->map->size()));
    h.Update(f->map->data() + 8, static_cast<size_t>(f->header_bytes));
    data_bytes += f->map->size() - f->data_start;
  }
  // Every weight byte: small checkpoints byte by byte, large ones by the
  // parallel chunked hash, whose digest is kept between runs
  // (content_id_cache.h) since it reads the whole model.
  constexpr int64_t kWhole = int64_t{256} << 20;
  if (data_bytes <= kWhole) {
    for (const SafetensorsFile* f : files)
      for (const auto& [name, e] : f->entries)
        h.Update(f->map->data() + f->data_start + e.begin, static_cast<size_t>(e.end - e.begin));
    ck->content_id_.Set(h.Hex());
  } else {
    // On first use (the files live as long as the checkpoint).
    ck->content_id_.Defer([h, files]() mutable {
      std::vector<std::string> paths;
      for (const SafetensorsFile* f : files) paths.push_back(f->path());
      h.Update(CachedBytesDigest("safetensors weight bytes v1", paths, [&] {
        ContentHasher bytes;
        for (const SafetensorsFile* f : files)
          for (const auto& [name, e] : f->entries)
            bytes.UpdateLarge(f->map->data() + f->data_start + e.begin, static_cast<size_t>(e.end - e.begin));
        return bytes.Digest();
      }));
      return h.Hex();
    });
  }
  return std::unique_ptr<Checkpoint>(std::move(ck));
}

absl::Status SafetensorsCheckpoint::ReadSlice(std::string_view name, int axis, int64_t begin,
                                              int64_t end, std::span<float> out) const {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, ResolveSlice(*this, name, axis, begin, end, out.size()));
  const size_t index = static_cast<size_t>(s.info - tensors_.data());
  const Location& loc = locations_[index];
  if (loc.packed) {
    DequantizePackedInt(packed_formats_[index], *loc.packed, s.rows, s.cols, s.row_begin, s.row_end, s.col_begin,
                        s.col_end, out.data());
    return absl::OkStatus();
  }
  const DType t = s.info->dtype;
  const int64_t eb = DTypeBytes(t);
  const uint8_t* base = loc.file->map->data() + loc.file->data_start + loc.entry->begin;
  const int64_t oc = s.out_cols();
  if (oc == s.cols) {
    // Whole rows are one contiguous run: convert it in parallel chunks.
    const uint8_t* src = base + s.row_begin * s.cols * eb;
    const int64_t n = s.numel();
    constexpr int64_t kChunk = 1 << 20;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
    for (int64_t c = 0; c < n; c += kChunk)
      ConvertToFloat(t, src + c * eb, std::min(kChunk, n - c), out.data() + c);
  } else {
    const int64_t rows = s.row_end - s.row_begin;
#pragma omp parallel for schedule(static) if (s.numel() > (1 << 22))
    for (int64_t r = 0; r < rows; ++r)
      ConvertToFloat(t, base + ((s.row_begin + r) * s.cols + s.col_begin) * eb, oc,
                     out.data() + r * oc);
  }
  return absl::OkStatus();
}

absl::Status SafetensorsCheckpoint::ReadBlockBF16(std::string_view name, int64_t row_begin, int64_t row_end,
                                                  int64_t col_begin, int64_t col_end, std::span<uint16_t> out) const {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, ResolveBlockBF16(*this, name, row_begin, row_end, col_begin, col_end,
                                                          out.size()));
  const Location& loc = locations_[static_cast<size_t>(s.info - tensors_.data())];
  const uint8_t* base = loc.file->map->data() + loc.file->data_start + loc.entry->begin;
  const int64_t rows = s.row_end - s.row_begin, oc = s.out_cols();
#pragma omp parallel for schedule(static) if (s.numel() > (1 << 20))
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.data() + r * oc, base + ((s.row_begin + r) * s.cols + s.col_begin) * 2, oc * 2);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenSafetensorsCheckpoint(const std::string& path) {
  return SafetensorsCheckpoint::Open(path);
}

}  // namespace qsweep
