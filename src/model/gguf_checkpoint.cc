#include "model/gguf_checkpoint.h"

#include <cstring>
#include <map>
#include <optional>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/content_hash.h"
#include "model/content_id_cache.h"
#include "model/mapped_file.h"
#include "model/tensor_slice.h"
#include "quant/bit_packing.h"
#include "quant/ggml_blocks.h"

namespace qsweep {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF", little-endian
constexpr uint64_t kMaxCount = uint64_t{1} << 24;   // tensors, keys, array entries beyond this are not a model
constexpr uint64_t kMaxString = uint64_t{1} << 24;  // bytes of one string
constexpr int kMaxArrayDepth = 4;

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

int ScalarBytes(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// A bounds-checked little-endian cursor over the mapped file: every read
// past the end, and every length that would pass it, is an error naming
// what was being read.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, int64_t size) : path_(path), data_(data), size_(size) {}
  int64_t offset() const { return at_; }
  absl::Status Fail(const std::string& what) const {
    return absl::DataLossError(absl::StrFormat("%s: not a valid GGUF file: %s (at byte %d of %d)", path_, what, at_,
                                               size_));
  }
  template <typename T>
  absl::StatusOr<T> Get(const char* what) {
    if (size_ - at_ < static_cast<int64_t>(sizeof(T))) return Fail(absl::StrFormat("%s runs past the end", what));
    T v;
    std::memcpy(&v, data_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  absl::StatusOr<std::string> String(const char* what) {
    QSWEEP_ASSIGN_OR_RETURN(const uint64_t n, Get<uint64_t>(what));
    if (n > kMaxString || static_cast<uint64_t>(size_ - at_) < n)
      return Fail(absl::StrFormat("%s claims %d bytes", what, n));
    std::string s(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += static_cast<int64_t>(n);
    return s;
  }
  absl::Status Skip(uint64_t bytes, const char* what) {
    if (static_cast<uint64_t>(size_ - at_) < bytes) return Fail(absl::StrFormat("%s runs past the end", what));
    at_ += static_cast<int64_t>(bytes);
    return absl::OkStatus();
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  int64_t size_;
  int64_t at_ = 0;
};

// A metadata value: the scalars and strings the reader uses, and the string
// arrays (the tokenizer's tokens are counted, not kept).
struct Value {
  uint32_t type = 0;
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;
  uint64_t array_count = 0;
  uint32_t array_type = 0;
};

// `strings` / `ints` / `floats`: where a string / int32 / f32 array's
// entries go (the tokenizer's arrays); other arrays are checked and skipped.
absl::StatusOr<Value> ReadValue(Cursor& c, uint32_t type, int depth, std::vector<std::string>* strings = nullptr,
                                std::vector<int32_t>* ints = nullptr, std::vector<float>* floats = nullptr) {
  Value v;
  v.type = type;
  switch (type) {
    case kU8: { QSWEEP_ASSIGN_OR_RETURN(uint8_t x, c.Get<uint8_t>("a u8 value")); v.scalar = uint64_t{x}; break; }
    case kI8: { QSWEEP_ASSIGN_OR_RETURN(int8_t x, c.Get<int8_t>("an i8 value")); v.scalar = int64_t{x}; break; }
    case kU16: { QSWEEP_ASSIGN_OR_RETURN(uint16_t x, c.Get<uint16_t>("a u16 value")); v.scalar = uint64_t{x}; break; }
    case kI16: { QSWEEP_ASSIGN_OR_RETURN(int16_t x, c.Get<int16_t>("an i16 value")); v.scalar = int64_t{x}; break; }
    case kU32: { QSWEEP_ASSIGN_OR_RETURN(uint32_t x, c.Get<uint32_t>("a u32 value")); v.scalar = uint64_t{x}; break; }
    case kI32: { QSWEEP_ASSIGN_OR_RETURN(int32_t x, c.Get<int32_t>("an i32 value")); v.scalar = int64_t{x}; break; }
    case kU64: { QSWEEP_ASSIGN_OR_RETURN(uint64_t x, c.Get<uint64_t>("a u64 value")); v.scalar = x; break; }
    case kI64: { QSWEEP_ASSIGN_OR_RETURN(int64_t x, c.Get<int64_t>("an i64 value")); v.scalar = x; break; }
    case kF32: { QSWEEP_ASSIGN_OR_RETURN(float x, c.Get<float>("an f32 value")); v.scalar = double{x}; break; }
    case kF64: { QSWEEP_ASSIGN_OR_RETURN(double x, c.Get<double>("an f64 value")); v.scalar = x; break; }
    case kBool: {
      QSWEEP_ASSIGN_OR_RETURN(uint8_t x, c.Get<uint8_t>("a bool value"));
      if (x > 1) return c.Fail(absl::StrFormat("a bool value of %d", x));
      v.scalar = x == 1;
      break;
    }
    case kString: { QSWEEP_ASSIGN_OR_RETURN(v.scalar, c.String("a string value")); break; }
    case kArray: {
      if (depth >= kMaxArrayDepth) return c.Fail("arrays nested too deep");
      QSWEEP_ASSIGN_OR_RETURN(v.array_type, c.Get<uint32_t>("an array's type"));
      QSWEEP_ASSIGN_OR_RETURN(v.array_count, c.Get<uint64_t>("an array's length"));
      if (v.array_count > kMaxCount) return c.Fail(absl::StrFormat("an array of %d entries", v.array_count));
      if (v.array_type == kI32 && ints) {
        ints->reserve(std::min<uint64_t>(v.array_count, 1 << 20));
        for (uint64_t i = 0; i < v.array_count; ++i) {
          QSWEEP_ASSIGN_OR_RETURN(const int32_t x, c.Get<int32_t>("an i32 array entry"));
          ints->push_back(x);
        }
      } else if (v.array_type == kF32 && floats) {
        floats->reserve(std::min<uint64_t>(v.array_count, 1 << 20));
        for (uint64_t i = 0; i < v.array_count; ++i) {
          QSWEEP_ASSIGN_OR_RETURN(const float x, c.Get<float>("an f32 array entry"));
          floats->push_back(x);
        }
      } else if (const int bytes = ScalarBytes(v.array_type); bytes > 0) {
        QSWEEP_RETURN_IF_ERROR(c.Skip(v.array_count * bytes, "an array"));
      } else if (v.array_type == kString && strings) {
        for (uint64_t i = 0; i < v.array_count; ++i) {
          QSWEEP_ASSIGN_OR_RETURN(const Value s, ReadValue(c, kString, depth + 1));
          strings->push_back(std::get<std::string>(s.scalar));
        }
      } else if (v.array_type == kString || v.array_type == kArray) {
        for (uint64_t i = 0; i < v.array_count; ++i) QSWEEP_RETURN_IF_ERROR(ReadValue(c, v.array_type, depth + 1).status());
      } else {
        return c.Fail(absl::StrFormat("an array of unknown value type %d", v.array_type));
      }
      break;
    }
    default: return c.Fail(absl::StrFormat("unknown value type %d", type));
  }
  return v;
}

using Metadata = std::map<std::string, Value>;

// Typed lookups: a key of the wrong type is an error naming it.
class Keys {
 public:
  Keys(const Metadata& m, const std::string& path) : m_(m), path_(path) {}
  bool Has(const std::string& key) const { return m_.count(key) > 0; }
  absl::StatusOr<int64_t> Int(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    auto it = m_.find(key);
    if (it == m_.end()) return fallback ? absl::StatusOr<int64_t>(*fallback) : Missing(key);
    if (const auto* u = std::get_if<uint64_t>(&it->second.scalar); u && *u <= (uint64_t{1} << 40))
      return static_cast<int64_t>(*u);
    if (const auto* i = std::get_if<int64_t>(&it->second.scalar); i && *i >= 0 && *i <= (int64_t{1} << 40)) return *i;
    return Bad(key, "a non-negative integer below 2^40");
  }
  absl::StatusOr<double> Float(const std::string& key, double fallback) const {
    auto it = m_.find(key);
    if (it == m_.end()) return fallback;
    if (const auto* d = std::get_if<double>(&it->second.scalar); d && std::isfinite(*d)) return *d;
    return Bad(key, "a finite number");
  }
  absl::StatusOr<bool> Bool(const std::string& key, bool fallback) const {
    auto it = m_.find(key);
    if (it == m_.end()) return fallback;
    if (const auto* b = std::get_if<bool>(&it->second.scalar)) return *b;
    return Bad(key, "a bool");
  }
  absl::StatusOr<std::string> String(const std::string& key, std::optional<std::string> fallback = std::nullopt) const {
    auto it = m_.find(key);
    if (it == m_.end()) return fallback ? absl::StatusOr<std::string>(*fallback) : Missing(key);
    if (const auto* s = std::get_if<std::string>(&it->second.scalar)) return *s;
    return Bad(key, "a string");
  }
  absl::StatusOr<uint64_t> ArrayCount(const std::string& key) const {
    auto it = m_.find(key);
    if (it == m_.end()) return 0;
    if (it->second.type != kArray) return Bad(key, "an array");
    return it->second.array_count;
  }

 private:
  absl::Status Missing(const std::string& key) const {
    return absl::InvalidArgumentError(absl::StrFormat("%s: GGUF metadata lacks '%s'", path_, key));
  }
  absl::Status Bad(const std::string& key, const char* want) const {
    return absl::InvalidArgumentError(absl::StrFormat("%s: GGUF metadata '%s' is not %s", path_, key, want));
  }
  const Metadata& m_;
  const std::string& path_;
};

// The canonical name of a GGUF tensor name; "" for names this reader does
// not map.
std::string CanonicalName(const std::string& gguf) {
  if (gguf == "token_embd.weight") return EmbedName();
  if (gguf == "output_norm.weight") return FinalNormName();
  if (gguf == "output.weight") return LmHeadName();
  int layer = -1, end = 0;
  char part[64] = {0};
  if (std::sscanf(gguf.c_str(), "blk.%d.%63[a-z_.]%n", &layer, part, &end) != 2 ||
      end != static_cast<int>(gguf.size()) || layer < 0)
    return "";
  static const std::map<std::string, std::string> kSuffix = {
      {"attn_norm.weight", "input_layernorm.weight"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},     {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},     {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},         {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},         {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},          {"ffn_down.weight", "mlp.down_proj.weight"}};
  auto it = kSuffix.find(part);
  return it == kSuffix.end() ? "" : LayerTensorName(layer, it->second);
}

}  // namespace

// Where a tensor's blocks are, and how its rows map onto HF's.
struct GgufCheckpoint::Stored {
  GgmlType type = GgmlType::kF32;
  std::string type_name;
  int64_t offset = 0;     // absolute, in the file
  int64_t bytes = 0;
  int64_t row_bytes = 0;  // one row of ne[0] weights
  int64_t heads = 0;      // > 0: rows are llama.cpp's interleaved rotary order, `heads` heads
  // The bytes of HF row r: with `heads`, HF row h·hd + a·hd/2 + b is the
  // file's row h·hd + 2b + a.
  const uint8_t* Row(const uint8_t* file, int64_t r, int64_t hd) const {
    int64_t stored = r;
    if (heads > 0) {
      const int64_t h = r / hd, i = r % hd;
      stored = h * hd + 2 * (i % (hd / 2)) + i / (hd / 2);
    }
    return file + offset + stored * row_bytes;
  }
};

GgufCheckpoint::~GgufCheckpoint() = default;

absl::StatusOr<std::unique_ptr<GgufCheckpoint>> GgufCheckpoint::Open(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  std::unique_ptr<GgufCheckpoint> ck(new GgufCheckpoint());
  ck->source_ = path;
  Cursor c(path, file->data(), file->size());
  QSWEEP_ASSIGN_OR_RETURN(const uint32_t magic, c.Get<uint32_t>("the magic number"));
  if (magic != kMagic) return c.Fail("no GGUF magic number");
  QSWEEP_ASSIGN_OR_RETURN(const uint32_t version, c.Get<uint32_t>("the version"));
  if (version != 3)
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: GGUF version %d; qsweep reads version 3 (convert it with a current llama.cpp)", path,
                        version));
  QSWEEP_ASSIGN_OR_RETURN(const uint64_t n_tensors, c.Get<uint64_t>("the tensor count"));
  QSWEEP_ASSIGN_OR_RETURN(const uint64_t n_keys, c.Get<uint64_t>("the metadata count"));
  if (n_tensors > kMaxCount || n_keys > kMaxCount)
    return c.Fail(absl::StrFormat("%d tensors and %d metadata keys", n_tensors, n_keys));
  Metadata meta;
  for (uint64_t i = 0; i < n_keys; ++i) {
    QSWEEP_ASSIGN_OR_RETURN(std::string key, c.String("a metadata key"));
    QSWEEP_ASSIGN_OR_RETURN(const uint32_t type, c.Get<uint32_t>("a metadata value's type"));
    std::vector<std::string>* strings = key == "tokenizer.ggml.tokens"   ? &ck->tokenizer_.tokens
                                        : key == "tokenizer.ggml.merges" ? &ck->tokenizer_.merges
                                                                         : nullptr;
    std::vector<int32_t>* ints = key == "tokenizer.ggml.token_type" ? &ck->tokenizer_.token_type : nullptr;
    std::vector<float>* floats = key == "tokenizer.ggml.scores" ? &ck->tokenizer_.scores : nullptr;
    QSWEEP_ASSIGN_OR_RETURN(Value v, ReadValue(c, type, 0, strings, ints, floats));
    if (!meta.emplace(key, std::move(v)).second) return c.Fail(absl::StrFormat("metadata key '%s' twice", key));
  }
  const Keys keys(meta, path);

  // The tensor directory: names, shapes, types and offsets into the data.
  struct Raw {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t offset;
  };
  std::vector<Raw> raw;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Raw r;
    QSWEEP_ASSIGN_OR_RETURN(r.name, c.String("a tensor name"));
    QSWEEP_ASSIGN_OR_RETURN(const uint32_t dims, c.Get<uint32_t>("a tensor's dimension count"));
    if (dims < 1 || dims > 4) return c.Fail(absl::StrFormat("tensor '%s' has %d dimensions", r.name, dims));
    int64_t numel = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      QSWEEP_ASSIGN_OR_RETURN(const uint64_t n, c.Get<uint64_t>("a tensor dimension"));
      if (n < 1 || n > (uint64_t{1} << 40) || numel > (int64_t{1} << 40) / static_cast<int64_t>(n))
        return c.Fail(absl::StrFormat("tensor '%s' has a dimension of %d", r.name, n));
      numel *= static_cast<int64_t>(n);
      r.ne.push_back(static_cast<int64_t>(n));
    }
    QSWEEP_ASSIGN_OR_RETURN(r.type, c.Get<uint32_t>("a tensor type"));
    QSWEEP_ASSIGN_OR_RETURN(r.offset, c.Get<uint64_t>("a tensor offset"));
    raw.push_back(std::move(r));
  }
  QSWEEP_ASSIGN_OR_RETURN(const int64_t alignment, keys.Int("general.alignment", 32));
  if (alignment < 1 || alignment > (1 << 20) || (alignment & (alignment - 1)))
    return c.Fail(absl::StrFormat("general.alignment %d is not a power of two", alignment));
  const int64_t data_start = (c.offset() + alignment - 1) / alignment * alignment;
  if (data_start > file->size()) return c.Fail("the tensor data starts past the end");

  // The architecture.
  QSWEEP_ASSIGN_OR_RETURN(const std::string arch, keys.String("general.architecture"));
  if (arch != "llama" && arch != "qwen2")
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: GGUF architecture '%s' is not supported (llama and qwen2 are)", path, arch));
  ModelConfig& m = ck->config_;
  m.architecture = arch == "llama" ? "LlamaForCausalLM" : "Qwen2ForCausalLM";
  QSWEEP_ASSIGN_OR_RETURN(m.hidden_size, keys.Int(arch + ".embedding_length"));
  QSWEEP_ASSIGN_OR_RETURN(m.num_layers, keys.Int(arch + ".block_count"));
  QSWEEP_ASSIGN_OR_RETURN(m.intermediate_size, keys.Int(arch + ".feed_forward_length"));
  QSWEEP_ASSIGN_OR_RETURN(m.num_heads, keys.Int(arch + ".attention.head_count"));
  QSWEEP_ASSIGN_OR_RETURN(m.num_kv_heads, keys.Int(arch + ".attention.head_count_kv", m.num_heads));
  QSWEEP_ASSIGN_OR_RETURN(m.max_position_embeddings, keys.Int(arch + ".context_length", 2048));
  QSWEEP_ASSIGN_OR_RETURN(m.rms_norm_eps, keys.Float(arch + ".attention.layer_norm_rms_epsilon", 1e-5));
  QSWEEP_ASSIGN_OR_RETURN(m.rope_theta, keys.Float(arch + ".rope.freq_base", 10000.0));
  // Bounds before anything is sized or multiplied by them: a layer has
  // tensors of its own, and no decoder is wider than 2^20 or has more heads
  // than 2^14.
  if (m.num_layers > static_cast<int64_t>(raw.size()) || m.hidden_size > (1 << 20) ||
      m.intermediate_size > (1 << 20) || m.num_heads > (1 << 14) || m.num_kv_heads > (1 << 14))
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: implausible GGUF shapes (%d layers for %d tensors, hidden %d, ffn %d, heads %d, kv heads %d)", path,
        m.num_layers, raw.size(), m.hidden_size, m.intermediate_size, m.num_heads, m.num_kv_heads));
  if (m.num_heads < 1 || m.num_kv_heads < 1 || m.num_heads % m.num_kv_heads || m.hidden_size < 1 ||
      m.num_layers < 1 || m.intermediate_size < 1)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: GGUF shapes do not make a model (hidden %d, layers %d, heads %d, kv heads %d, ffn %d)", path,
        m.hidden_size, m.num_layers, m.num_heads, m.num_kv_heads, m.intermediate_size));
  QSWEEP_ASSIGN_OR_RETURN(m.head_dim, keys.Int(arch + ".attention.key_length", m.hidden_size / m.num_heads));
  QSWEEP_ASSIGN_OR_RETURN(const int64_t rope_dims, keys.Int(arch + ".rope.dimension_count", m.head_dim));
  if (m.head_dim < 2 || m.head_dim > (1 << 14))
    return absl::InvalidArgumentError(absl::StrFormat("%s: head dimension %d", path, m.head_dim));
  if (rope_dims != m.head_dim || m.head_dim % 2)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: rotary over %d of %d head dimensions is not supported", path, rope_dims, m.head_dim));
  QSWEEP_ASSIGN_OR_RETURN(const std::string scaling, keys.String(arch + ".rope.scaling.type", "none"));
  if (scaling == "linear") {
    m.rope_scaling.type = RopeType::kLinear;
    QSWEEP_ASSIGN_OR_RETURN(m.rope_scaling.factor, keys.Float(arch + ".rope.scaling.factor", 1.0));
  } else if (scaling != "none") {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: rope scaling '%s' is not supported (none and linear are)", path, scaling));
  }
  m.dtype = DType::kBF16;

  // The tokenizer's identity.
  GgufTokenizerInfo& tok = ck->tokenizer_;
  QSWEEP_ASSIGN_OR_RETURN(tok.model, keys.String("tokenizer.ggml.model", ""));
  QSWEEP_ASSIGN_OR_RETURN(tok.pre, keys.String("tokenizer.ggml.pre", ""));
  QSWEEP_ASSIGN_OR_RETURN(const uint64_t tokens, keys.ArrayCount("tokenizer.ggml.tokens"));
  tok.vocab_size = static_cast<int64_t>(tokens);
  if (keys.Has("tokenizer.ggml.bos_token_id")) {
    QSWEEP_ASSIGN_OR_RETURN(tok.bos_id, keys.Int("tokenizer.ggml.bos_token_id"));
  }
  if (keys.Has("tokenizer.ggml.eos_token_id")) {
    QSWEEP_ASSIGN_OR_RETURN(tok.eos_id, keys.Int("tokenizer.ggml.eos_token_id"));
  }
  if (keys.Has("tokenizer.ggml.unknown_token_id")) {
    QSWEEP_ASSIGN_OR_RETURN(tok.unk_id, keys.Int("tokenizer.ggml.unknown_token_id"));
  }
  if (keys.Has("tokenizer.ggml.padding_token_id")) {
    QSWEEP_ASSIGN_OR_RETURN(tok.pad_id, keys.Int("tokenizer.ggml.padding_token_id"));
  }
  QSWEEP_ASSIGN_OR_RETURN(tok.add_space_prefix, keys.Bool("tokenizer.ggml.add_space_prefix", true));
  if (!tok.scores.empty() && tok.scores.size() != tok.tokens.size())
    return absl::InvalidArgumentError(absl::StrFormat("%s: tokenizer.ggml.scores has %d entries for %d tokens",
                                                      path, tok.scores.size(), tok.tokens.size()));
  if (!tok.token_type.empty() && tok.token_type.size() != tok.tokens.size())
    return absl::InvalidArgumentError(absl::StrFormat("%s: tokenizer.ggml.token_type has %d entries for %d tokens",
                                                      path, tok.token_type.size(), tok.tokens.size()));

  // Tensors: canonical names, shapes [rows = ne[1], cols = ne[0]], formats.
  std::map<std::string, size_t> index;
  ContentHasher hash;
  hash.Update(std::string_view("gguf"));
  for (const Raw& r : raw) {
    const std::string name = CanonicalName(r.name);
    if (name.empty()) {
      if (r.name == "rope_freqs.weight")
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: tensor 'rope_freqs.weight' (llama3-style rope scaling factors) is not supported", path));
      return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s' is not one of a Llama-family decoder's",
                                                        path, r.name));
    }
    const std::optional<GgmlTypeInfo> info = GgmlTypeInfoOf(r.type);
    if (!info) return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s' has unknown ggml type %d", path, r.name, r.type));
    if (!info->supported)
      return absl::UnimplementedError(absl::StrFormat(
          "%s: tensor '%s' is %s, a ggml type qsweep does not read yet", path, r.name, info->name));
    if (r.ne.size() > 2) return c.Fail(absl::StrFormat("tensor '%s' has %d dimensions", r.name, r.ne.size()));
    if (r.ne[0] % info->block_weights)
      return c.Fail(absl::StrFormat("tensor '%s': rows of %d weights are not whole %s blocks of %d", r.name, r.ne[0],
                                    info->name, info->block_weights));
    Stored s;
    s.type = static_cast<GgmlType>(r.type);
    s.type_name = std::string(info->name);
    s.row_bytes = r.ne[0] / info->block_weights * info->block_bytes;
    const int64_t rows = r.ne.size() == 2 ? r.ne[1] : 1;
    s.bytes = s.row_bytes * rows;
    if (r.offset % alignment || r.offset > static_cast<uint64_t>(file->size() - data_start) ||
        static_cast<uint64_t>(s.bytes) > static_cast<uint64_t>(file->size() - data_start) - r.offset)
      return c.Fail(absl::StrFormat("tensor '%s': %d bytes at data offset %d do not fit the file (alignment %d)",
                                    r.name, s.bytes, r.offset, alignment));
    s.offset = data_start + static_cast<int64_t>(r.offset);
    if (!index.emplace(name, ck->tensors_.size()).second)
      return c.Fail(absl::StrFormat("tensor '%s' twice", r.name));
    TensorInfo t;
    t.name = name;
    t.dtype = DType::kF32;  // what reads give
    t.shape = r.ne.size() == 2 ? std::vector<int64_t>{r.ne[1], r.ne[0]} : std::vector<int64_t>{r.ne[0]};
    if (arch == "llama" && (absl::EndsWith(name, "q_proj.weight") || absl::EndsWith(name, "k_proj.weight")))
      s.heads = absl::EndsWith(name, "q_proj.weight") ? m.num_heads : m.num_kv_heads;
    // The id: what defines the weights (names, shapes, formats, then every
    // tensor's bytes below).
    hash.Update(std::string_view(name));
    hash.Update(static_cast<uint64_t>(r.type));
    for (int64_t d : r.ne) hash.Update(static_cast<uint64_t>(d));
    ck->tensors_.push_back(std::move(t));
    ck->stored_.push_back(s);
  }
  const auto embed = index.find(EmbedName());
  if (embed == index.end())
    return absl::InvalidArgumentError(absl::StrFormat("%s: no token_embd.weight tensor", path));
  m.vocab_size = ck->tensors_[embed->second].shape[0];
  m.tie_word_embeddings = !index.count(LmHeadName());
  m.attention_bias = index.count(LayerTensorName(0, "self_attn.q_proj.bias")) > 0;
  if (tok.vocab_size != 0 && tok.vocab_size != m.vocab_size)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the tokenizer has %d tokens, the embedding %d rows", path, tok.vocab_size, m.vocab_size));

  // Every tensor the config implies, at its shape; none besides.
  std::vector<TensorInfo> ordered;
  std::vector<Stored> ordered_stored;
  for (const ExpectedTensor& e : ExpectedTensors(m)) {
    auto it = index.find(e.name);
    if (it == index.end())
      return absl::InvalidArgumentError(absl::StrFormat("%s: missing tensor '%s'", path, e.name));
    if (ck->tensors_[it->second].shape != e.shape)
      return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s' is %s, the config implies %s", path, e.name,
                                                        FormatShape(ck->tensors_[it->second].shape),
                                                        FormatShape(e.shape)));
    ordered.push_back(ck->tensors_[it->second]);
    ordered_stored.push_back(ck->stored_[it->second]);
  }
  if (ordered.size() != ck->tensors_.size())
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d tensors, of which the config uses %d", path, ck->tensors_.size(), ordered.size()));
  ck->tensors_ = std::move(ordered);
  ck->stored_ = std::move(ordered_stored);
  hash.Update(m);
  // Every tensor's bytes, in the file's order: byte by byte for small
  // files, by the parallel chunked hash (kept between runs,
  // content_id_cache.h) for large ones.
  std::vector<std::pair<int64_t, int64_t>> spans;  // offset, bytes
  for (const Stored& s : ck->stored_) spans.emplace_back(s.offset, s.bytes);
  std::sort(spans.begin(), spans.end());
  int64_t tensor_bytes = 0;
  for (const auto& [at, n] : spans) tensor_bytes += n;
  if (tensor_bytes <= (int64_t{256} << 20)) {
    for (const auto& [at, n] : spans) hash.Update(file->data() + at, static_cast<size_t>(n));
    ck->content_id_.Set(hash.Hex());
  } else {
    // On first use (the mapping lives as long as the checkpoint).
    const uint8_t* data = file->data();
    ck->content_id_.Defer([hash, path, data, spans]() mutable {
      hash.Update(CachedBytesDigest("gguf weight bytes v1", {path}, [&] {
        ContentHasher bytes;
        for (const auto& [at, n] : spans) bytes.UpdateLarge(data + at, static_cast<size_t>(n));
        return bytes.Digest();
      }));
      return hash.Hex();
    });
  }
  ck->file_ = std::move(file);
  return ck;
}

absl::Status GgufCheckpoint::ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                                       std::span<float> out) const {
  QSWEEP_ASSIGN_OR_RETURN(const TensorSlice sl, ResolveSlice(*this, name, axis, begin, end, out.size()));
  const Stored& s = stored_[sl.info - tensors_.data()];
  const uint8_t* base = file_->data() + s.offset;
  if (sl.info->shape.size() == 1) {
    // Norms: one row of weights; the slice is a range of it.
    std::vector<float> all(sl.rows);
    DequantizeGgml(s.type, base, sl.rows, all.data());
    std::copy(all.begin() + sl.row_begin, all.begin() + sl.row_end, out.begin());
    return absl::OkStatus();
  }
#pragma omp parallel if (sl.numel() > (1 << 18))
  {
    std::vector<float> row(sl.cols);
#pragma omp for schedule(static)
    for (int64_t r = sl.row_begin; r < sl.row_end; ++r) {
      const uint8_t* src = s.Row(file_->data(), r, config_.head_dim);
      float* dst = out.data() + (r - sl.row_begin) * sl.out_cols();
      if (sl.col_begin == 0 && sl.col_end == sl.cols) {
        DequantizeGgml(s.type, src, sl.cols, dst);
      } else {
        DequantizeGgml(s.type, src, sl.cols, row.data());
        std::copy(row.begin() + sl.col_begin, row.begin() + sl.col_end, dst);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<QuantizedWeights>> GgufCheckpoint::ReadStoredRows(std::string_view name, int64_t begin,
                                                                                int64_t end) const {
  QSWEEP_ASSIGN_OR_RETURN(const TensorSlice sl, ResolveRows(*this, name, begin, end));
  const Stored& s = stored_[sl.info - tensors_.data()];
  const int bits = GgmlSymmetricIntBits(s.type);
  if (sl.info->shape.size() != 2 || bits == 0) return std::nullopt;
  const int64_t cols = sl.cols;
  QuantizedWeights q;
  q.format.kind = WeightKind::kInt, q.format.bits = bits, q.format.group = 32;
  q.out = end - begin, q.in = cols, q.groups = cols / 32;
  std::vector<uint8_t> codes(q.out * cols);
  q.scales.resize(q.out * q.groups);
#pragma omp parallel for schedule(static) if (q.out * cols > (1 << 18))
  for (int64_t r = begin; r < end; ++r)
    GgmlSymmetricIntCodes(s.type, s.Row(file_->data(), r, config_.head_dim), cols, codes.data() + (r - begin) * cols,
                          q.scales.data() + (r - begin) * q.groups);
  q.codes = PackCodes(codes, q.out, cols, bits);
  return q;
}

std::vector<GgufTensorFormat> GgufCheckpoint::formats() const {
  std::vector<GgufTensorFormat> out;
  for (size_t i = 0; i < tensors_.size(); ++i) out.push_back({tensors_[i].name, stored_[i].type_name});
  return out;
}

std::vector<StoredFormat> GgufCheckpoint::stored_formats() const {
  std::vector<StoredFormat> out;
  for (size_t i = 0; i < tensors_.size(); ++i) out.push_back({tensors_[i].name, stored_[i].type_name, stored_[i].bytes});
  return out;
}

int64_t GgufCheckpoint::stored_bytes() const {
  int64_t n = 0;
  for (const Stored& s : stored_) n += s.bytes;
  return n;
}

double GgufCheckpoint::bits_per_weight() const {
  int64_t weights = 0;
  for (const TensorInfo& t : tensors_) weights += t.numel();
  return weights ? 8.0 * static_cast<double>(stored_bytes()) / static_cast<double>(weights) : 0;
}

}  // namespace qsweep
