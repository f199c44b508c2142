#include "model/llama2c_checkpoint.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/content_hash.h"
#include "model/content_id_cache.h"
#include "model/lazy_content_id.h"
#include "model/mapped_file.h"
#include "model/tensor_slice.h"

namespace qsweep {

int64_t Llama2cRowOfHfRow(int64_t hf_row, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  const int64_t h = hf_row / head_dim, within = hf_row % head_dim;
  const int64_t p = within / half, i = within % half;
  return h * head_dim + 2 * i + p;
}

namespace {

constexpr int64_t kHeaderBytes = 7 * 4;

// Where one canonical tensor lives in the file.
struct Placement {
  int64_t offset = 0;       // byte offset of element 0
  int64_t rope_head_dim = 0;  // > 0: rows are permuted (wq, wk)
};

class Llama2cCheckpoint : public Checkpoint {
 public:
  const std::string& source() const override { return source_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string content_id() const override { return content_id_.Get(); }
  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override;

  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path);

 private:
  std::string source_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::vector<Placement> placements_;  // parallel to tensors_
  std::unique_ptr<MappedFile> map_;
  LazyContentId content_id_;
};

absl::StatusOr<std::unique_ptr<Checkpoint>> Llama2cCheckpoint::Open(const std::string& path) {
  auto ck = std::make_unique<Llama2cCheckpoint>();
  ck->source_ = path;
  QSWEEP_ASSIGN_OR_RETURN(ck->map_, MappedFile::Open(path));
  const int64_t size = ck->map_->size();
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, why));
  };
  if (size < kHeaderBytes)
    return bad(absl::StrFormat("truncated: %d bytes, too short for the 28-byte llama2.c header",
                               size));
  int32_t h[7];
  std::memcpy(h, ck->map_->data(), sizeof h);
  if (static_cast<uint32_t>(h[0]) == 0x616b3432u)  // "ak42": export.py's versioned formats
    return bad(absl::StrFormat("llama2.c export version %d (magic 'ak42') is not supported: "
                               "export with the legacy (version 0) format",
                               h[1]));
  const int64_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4];
  const bool shared = h[5] > 0;
  const int64_t vocab = h[5] > 0 ? h[5] : -int64_t{h[5]}, seq_len = h[6];
  const char* names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                         "seq_len"};
  const int64_t values[] = {dim, hidden, layers, heads, kv_heads, vocab, seq_len};
  for (int i = 0; i < 7; ++i)
    if (values[i] <= 0 || values[i] > (int64_t{1} << 24))
      return bad(absl::StrFormat("header field %s = %d is out of range: not a llama2.c "
                                 "checkpoint?",
                                 names[i], h[i]));
  if (dim % heads != 0 || heads % kv_heads != 0 || (dim / heads) % 2 != 0)
    return bad(absl::StrFormat("header has dim %d, n_heads %d, n_kv_heads %d: heads must "
                               "divide dim into even head sizes and kv heads must divide heads",
                               dim, heads, kv_heads));

  ModelConfig& c = ck->config_;
  c.architecture = "LlamaForCausalLM";
  c.vocab_size = vocab;
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.max_position_embeddings = seq_len;
  c.rms_norm_eps = 1e-5;  // run.c's rmsnorm
  c.rope_theta = 10000.0;
  c.rope_scaling = RopeScaling{};
  c.tie_word_embeddings = shared;
  c.attention_bias = false;
  c.dtype = DType::kF32;
  const int64_t hd = c.head_dim, kv_dim = c.kv_dim();

  // The size the header implies, before a tensor list of n_layers entries
  // is built: a 28-byte file may claim 2^24 layers. In double, which holds
  // these products (each field < 2^24) closely enough to compare.
  const double per_layer = 2.0 * dim + 2.0 * dim * dim + 2.0 * kv_dim * dim + 3.0 * hidden * dim;
  const double implied = kHeaderBytes + 4.0 * (double(vocab) * dim * (shared ? 1 : 2) + layers * per_layer + dim +
                                               double(seq_len) * (hd / 2) * 2);
  if (implied > static_cast<double>(size) + 0.5)
    return bad(absl::StrFormat("truncated: the header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads "
                               "%d, vocab_size %d, seq_len %d) implies %.0f bytes but the file has %d",
                               dim, hidden, layers, heads, kv_heads, h[5], seq_len, implied, size));

  // The file's arrays in order; per-layer arrays are stacked over layers.
  int64_t offset = kHeaderBytes;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, int64_t rope_head_dim) {
    TensorInfo info{name, DType::kF32, std::move(shape)};
    ck->placements_.push_back({offset, rope_head_dim});
    offset += info.numel() * 4;
    ck->tensors_.push_back(std::move(info));
  };
  auto add_stacked = [&](std::string_view suffix, std::vector<int64_t> shape, int64_t rope) {
    for (int64_t l = 0; l < layers; ++l) add(LayerTensorName(l, suffix), shape, rope);
  };
  add(EmbedName(), {vocab, dim}, 0);
  add_stacked("input_layernorm.weight", {dim}, 0);
  add_stacked("self_attn.q_proj.weight", {dim, dim}, hd);
  add_stacked("self_attn.k_proj.weight", {kv_dim, dim}, hd);
  add_stacked("self_attn.v_proj.weight", {kv_dim, dim}, 0);
  add_stacked("self_attn.o_proj.weight", {dim, dim}, 0);
  add_stacked("post_attention_layernorm.weight", {dim}, 0);
  add_stacked("mlp.gate_proj.weight", {hidden, dim}, 0);
  add_stacked("mlp.down_proj.weight", {dim, hidden}, 0);
  add_stacked("mlp.up_proj.weight", {hidden, dim}, 0);
  add(FinalNormName(), {dim}, 0);
  offset += 2 * seq_len * (hd / 2) * 4;  // freq_cis_real, freq_cis_imag: recomputed, unused
  if (!shared) add(LmHeadName(), {vocab, dim}, 0);
  if (offset != size)
    return bad(absl::StrFormat("%s: the header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                               "n_kv_heads %d, vocab_size %d, seq_len %d) implies %d bytes but "
                               "the file has %d",
                               offset > size ? "truncated" : "size mismatch", dim, hidden,
                               layers, heads, kv_heads, h[5], seq_len, offset, size));

  // Reorder into ExpectedTensors() order, as the interface promises.
  std::vector<TensorInfo> ordered;
  std::vector<Placement> placed;
  for (const auto& want : ExpectedTensors(c)) {
    auto it = std::find_if(ck->tensors_.begin(), ck->tensors_.end(),
                           [&](const TensorInfo& t) { return t.name == want.name; });
    QSWEEP_CHECK(it != ck->tensors_.end() && it->shape == want.shape);
    ordered.push_back(*it);
    placed.push_back(ck->placements_[static_cast<size_t>(it - ck->tensors_.begin())]);
  }
  ck->tensors_ = std::move(ordered);
  ck->placements_ = std::move(placed);

  // Every byte: small files byte by byte, big ones by the parallel chunked
  // hash, kept between runs (content_id_cache.h).
  ContentHasher hasher;
  hasher.Update(std::string_view("llama2c"));
  hasher.Update(static_cast<uint64_t>(size));
  constexpr int64_t kWhole = 64 << 20;
  if (size <= kWhole) {
    hasher.Update(ck->map_->data(), static_cast<size_t>(size));
    ck->content_id_.Set(hasher.Hex());
  } else {
    // On first use (the mapping lives as long as the checkpoint).
    const uint8_t* data = ck->map_->data();
    ck->content_id_.Defer([hasher, path, data, size]() mutable {
      hasher.Update(CachedBytesDigest("llama2c bytes v1", {path}, [&] {
        ContentHasher bytes;
        bytes.UpdateLarge(data, static_cast<size_t>(size));
        return bytes.Digest();
      }));
      return hasher.Hex();
    });
  }
  return std::unique_ptr<Checkpoint>(std::move(ck));
}

absl::Status Llama2cCheckpoint::ReadSlice(std::string_view name, int axis, int64_t begin,
                                          int64_t end, std::span<float> out) const {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, ResolveSlice(*this, name, axis, begin, end, out.size()));
  const Placement& p = placements_[static_cast<size_t>(s.info - tensors_.data())];
  const uint8_t* base = map_->data() + p.offset;
  const int64_t oc = s.out_cols(), rows = s.row_end - s.row_begin;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t src_row = s.row_begin + r;
    if (p.rope_head_dim > 0) src_row = Llama2cRowOfHfRow(src_row, p.rope_head_dim);
    std::memcpy(out.data() + r * oc, base + (src_row * s.cols + s.col_begin) * 4,
                static_cast<size_t>(oc) * 4);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenLlama2cCheckpoint(const std::string& path) {
  return Llama2cCheckpoint::Open(path);
}

}  // namespace qsweep
