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
};

class SafetensorsCheckpoint : public Checkpoint {
 public:
  const std::string& source() const override { return source_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string content_id() const override { return content_id_; }
  std::vector<std::string> ignored_tensors() const override { return ignored_; }

  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override;

  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& spec);

 private:
  std::string source_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::vector<Location> locations_;  // parallel to tensors_
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::string> ignored_;
  std::string content_id_;
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

  for (const auto& want : ExpectedTensors(ck->config_)) {
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
    where.erase(it);
  }
  for (const auto& [name, file] : where)
    if (!absl::EndsWith(name, "rotary_emb.inv_freq")) ck->ignored_.push_back(name);
  // The storage type is what the files hold, whatever torch_dtype claims.
  ck->config_.dtype = ck->tensors_[0].dtype;

  // The id covers what defines the weights without reading them: the
  // config, each header (names, dtypes, shapes, offsets) and file size.
  ContentHasher h;
  h.Update(std::string_view("safetensors"));
  h.Update(ck->config_);
  std::vector<const SafetensorsFile*> files;
  for (const auto& f : ck->files_) files.push_back(f.get());
  std::sort(files.begin(), files.end(),
            [](auto* a, auto* b) { return a->path() < b->path(); });
  for (const SafetensorsFile* f : files) {
    h.Update(static_cast<uint64_t>(f->map->size()));
    h.Update(f->map->data() + 8, static_cast<size_t>(f->header_bytes));
  }
  ck->content_id_ = h.Hex();
  return std::unique_ptr<Checkpoint>(std::move(ck));
}

absl::Status SafetensorsCheckpoint::ReadSlice(std::string_view name, int axis, int64_t begin,
                                              int64_t end, std::span<float> out) const {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, ResolveSlice(*this, name, axis, begin, end, out.size()));
  const Location& loc = locations_[static_cast<size_t>(s.info - tensors_.data())];
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

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenSafetensorsCheckpoint(const std::string& path) {
  return SafetensorsCheckpoint::Open(path);
}

}  // namespace qsweep
