#include "model/decoder.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "model/decoder_layer.h"
#include "model/rope.h"
#include "quant/scheme.h"
#include "quant/tensor_quantizer.h"

namespace qsweep {

// A NaN or infinite weight makes every score of the run NaN: refused at
// load, naming the tensor, rather than a complete-looking run of NaN.
static absl::Status CheckFinite(const Checkpoint& ckpt, const std::string& name, const std::vector<float>& w) {
  int64_t bad = -1;
#pragma omp parallel for reduction(max : bad) schedule(static) if (w.size() > (1 << 20))
  for (size_t i = 0; i < w.size(); ++i)
    if (!std::isfinite(w[i])) bad = std::max<int64_t>(bad, static_cast<int64_t>(i));
  if (bad < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("%s: tensor '%s' holds %g at element %d (of those read): the "
                                                    "checkpoint is damaged", ckpt.source(), name, w[bad], bad));
}

// The same for a block of bf16 bits (exponent bits all set), rows from
// `row_begin` and columns from `col_begin` of the tensor, `width` wide.
static absl::Status CheckFiniteBF16(const Checkpoint& ckpt, const std::string& name, std::span<const uint16_t> bits,
                                    int64_t row_begin, int64_t col_begin, int64_t width) {
  int64_t bad = -1;
#pragma omp parallel for reduction(max : bad) schedule(static) if (bits.size() > (1 << 20))
  for (size_t i = 0; i < bits.size(); ++i)
    if ((bits[i] & 0x7F80) == 0x7F80) bad = std::max<int64_t>(bad, static_cast<int64_t>(i));
  if (bad < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: tensor '%s' holds %g at row %d, column %d: the checkpoint is damaged", ckpt.source(), name,
      BF16ToFloat(bits[bad]), row_begin + bad / width, col_begin + bad % width));
}

// The same for packed weights: a NaN or infinite fp16 scale (exponent bits
// all set).
static absl::Status CheckFiniteScales(const Checkpoint& ckpt, const std::string& name, const QuantizedWeights& q) {
  for (size_t i = 0; i < q.scales.size(); ++i)
    if ((q.scales[i] & 0x7C00) == 0x7C00)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tensor '%s' holds a scale of %g at row %d, group %d: the checkpoint is damaged", ckpt.source(), name,
          F16ToFloat(q.scales[i]), static_cast<int64_t>(i) / q.groups, static_cast<int64_t>(i) % q.groups));
  return absl::OkStatus();
}

int64_t RowParallelParts(int64_t in_features) {
  int64_t p = kCanonicalParts;
  while (p > 1 && in_features % p) p /= 2;
  return p;
}

Decoder::Decoder(const ModelConfig& config, Backend* backend, DecoderOptions options)
    : config_(config), backend_(backend), options_(std::move(options)) {}

Decoder::~Decoder() {
  backend_->ForgetRecorded();
  for (Act* a : {&x_, &h_, &q_, &k_, &v_, &attn_, &gate_, &up_, &sel_, &sel_norm_, &logits_, &part_out_all_,
                 &base_norm_, &base_logits_})
    if (a->data) backend_->Free(*a);
  for (auto* v : {&part_in_o_, &part_in_down_, &k_cache_, &v_cache_})
    for (Act& a : *v)
      if (a.data) backend_->Free(a);
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::Load(const Checkpoint& checkpoint,
                                                       Backend* backend, DecoderOptions options) {
  const ModelConfig& c = checkpoint.config();
  const int tp = options.tp_size;
  if (tp < 1 || options.tp_rank < 0 || options.tp_rank >= tp)
    return absl::InvalidArgumentError(absl::StrFormat("bad tensor-parallel rank %d of %d",
                                                      options.tp_rank, tp));
  const bool invariant = options.tp_invariant;
  const int64_t o_parts = invariant ? RowParallelParts(c.q_dim()) : tp;
  const int64_t down_parts = invariant ? RowParallelParts(c.intermediate_size) : tp;
  if (kCanonicalParts % tp || c.num_heads % tp || c.num_kv_heads % tp || o_parts % tp || down_parts % tp ||
      c.intermediate_size % down_parts || c.vocab_size < kCanonicalParts)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: tensor parallelism %d must divide %d, the heads (%d), the kv heads (%d), and the "
        "%s of the intermediate size (%d) and of heads x head_dim (%d)",
        checkpoint.source(), tp, kCanonicalParts, c.num_heads, c.num_kv_heads,
        invariant ? "parts" : "widths", c.intermediate_size, c.q_dim()));
  std::unique_ptr<Decoder> d(new Decoder(c, backend, std::move(options)));
  d->o_parts_ = o_parts;
  d->down_parts_ = down_parts;
  d->local_heads_ = c.num_heads / tp;
  d->local_kv_heads_ = c.num_kv_heads / tp;
  d->local_intermediate_ = c.intermediate_size / tp;
  d->vocab_chunks_ = kCanonicalParts / tp;
  d->vocab_begin_ = c.vocab_size * (d->options_.tp_rank * d->vocab_chunks_) / kCanonicalParts;
  d->vocab_end_ = c.vocab_size * ((d->options_.tp_rank + 1) * d->vocab_chunks_) / kCanonicalParts;
  backend->SetModelPrecision(UnquantizedPrecision(d->options_.scheme));
  const int64_t free_before = backend->FreeMemoryBytes();
  QSWEEP_RETURN_IF_ERROR(d->LoadWeights(checkpoint));
  QSWEEP_RETURN_IF_ERROR(d->PlanBatchTokens(free_before));
  QSWEEP_RETURN_IF_ERROR(d->AllocateBuffers());
  if (d->options_.calibration && d->options_.scheme.method != Method::kRtn)
    QSWEEP_RETURN_IF_ERROR(d->Calibrate(checkpoint));
  return d;
}

absl::Status Decoder::LoadWeights(const Checkpoint& ckpt) {
  const ModelConfig& c = config_;
  const int r = options_.tp_rank;
  // A calibrated scheme loads by round to nearest; Calibrate then replaces
  // every projection (none of these runs before its replacement).
  SchemeSpec scheme = options_.scheme;
  if (options_.calibration) scheme.method = Method::kRtn;
  auto read = [&](const std::string& name, int axis, int64_t begin,
                  int64_t end) -> absl::StatusOr<std::vector<float>> {
    const TensorInfo* info = ckpt.Find(name);
    if (!info)
      return absl::NotFoundError(absl::StrFormat("%s: missing tensor '%s'", ckpt.source(), name));
    int64_t n = end - begin;
    if (info->shape.size() == 2) n *= info->shape[axis == 0 ? 1 : 0];
    std::vector<float> out(n);
    QSWEEP_RETURN_IF_ERROR(ckpt.ReadSlice(name, axis, begin, end, out));
    QSWEEP_RETURN_IF_ERROR(CheckFinite(ckpt, name, out));
    return out;
  };
  auto whole = [&](const std::string& name) -> absl::StatusOr<std::vector<float>> {
    QSWEEP_ASSIGN_OR_RETURN(std::vector<float> out, ckpt.ReadAll(name));
    QSWEEP_RETURN_IF_ERROR(CheckFinite(ckpt, name, out));
    return out;
  };
  // Rows [row_begin, row_end) x columns [col_begin, col_end) of a bf16
  // tensor as its bits, for the device path below.
  auto read_bf16 = [&](const std::string& name, int64_t row_begin, int64_t row_end, int64_t col_begin,
                       int64_t col_end, std::span<uint16_t> bits) -> absl::Status {
    QSWEEP_RETURN_IF_ERROR(ckpt.ReadBlockBF16(name, row_begin, row_end, col_begin, col_end, bits));
    return CheckFiniteBF16(ckpt, name, bits, row_begin, col_begin, col_end - col_begin);
  };
  // Rows [begin, end) as the checkpoint stores them, where that is a packed
  // format of qsweep's and the options ask for it.
  const bool stored_formats = options_.stored_formats && !options_.calibration;
  auto stored = [&](const std::string& name, int64_t begin,
                    int64_t end) -> absl::StatusOr<std::optional<QuantizedWeights>> {
    ++projections_;
    if (!stored_formats) return std::nullopt;
    QSWEEP_ASSIGN_OR_RETURN(std::optional<QuantizedWeights> q, ckpt.ReadStoredRows(name, begin, end));
    if (q) QSWEEP_RETURN_IF_ERROR(CheckFiniteScales(ckpt, name, *q));
    return q;
  };
  // Projections made on the backend's device from dense bf16 parts
  // (held_weights.h), where on_device says so; the others are read and
  // quantized on the host as below. The parts come from the held store, or
  // are read and uploaded (and then held, where there is a store); the
  // layer shares them where its format is the dense one, or is rounded to
  // nearest from them on the device.
  HeldWeights* held = options_.held && options_.held->source() == &ckpt ? options_.held : nullptr;
  const WeightFormat dense_bf16 = WeightFormat::Dense(16);
  using Layers = std::vector<std::unique_ptr<Linear>>;
  // `source`: the tensor the values come from; `whole_rows`: this rank's
  // parts hold every column of a row (per-channel scales need them).
  auto on_device = [&](const std::string& source, const WeightFormat& f, int64_t width, bool whole_rows) {
    const TensorInfo* info = ckpt.Find(source);
    if (!info || info->dtype != DType::kBF16 || options_.host_quantize) return false;
    // Dense bf16 layers are uploaded as their checkpoint's bits (held, or
    // staged straight to the device), except where a calibrated scheme
    // will change them.
    if (!f.quantized()) return f == dense_bf16 && (held || (scheme.method == Method::kRtn && !options_.calibration));
    const bool cuts = f.group > 0 ? width % f.group == 0 : whole_rows;
    return scheme.method == Method::kRtn && !options_.calibration && backend_->QuantizesOnDevice(f) && cuts;
  };
  // `rows`: this rank's part p of `count`, rows [begin, end) of its [out,
  // width] values, as bf16 bits.
  auto from_device = [&](const std::string& name, LinearRole role, const WeightFormat& f, int64_t count,
                         const Backend::Bf16Rows& rows, int64_t out, int64_t width) -> absl::StatusOr<Layers> {
    std::span<const std::unique_ptr<Linear>> dense = held ? held->Find(name) : std::span<const std::unique_ptr<Linear>>{};
    // Held in the other reduction's parts (a noise-floor candidate scored
    // with the plain reduction beside tp-invariant schemes): this scheme
    // reads its own, and the held copy stays as the others use it.
    const bool other_parts = !dense.empty() && (static_cast<int64_t>(dense.size()) != count ||
                                                dense[0]->out_features() != out || dense[0]->in_features() != width);
    if (other_parts) dense = {};
    Layers fresh;
    if (dense.empty()) {
      QSWEEP_ASSIGN_OR_RETURN(fresh, backend_->CreateDenseBf16(name, role, count, out, width, rows));
      if (held && !other_parts) {
        Layers shares;
        for (const auto& l : fresh) shares.push_back(backend_->ShareLinear(*l, false));
        held->Put(name, std::move(shares));
      }
      dense = fresh;
    }
    if (f.quantized()) return backend_->QuantizeLinearParts(name, role, dense, f);
    if (!fresh.empty()) return fresh;
    Layers shares;
    for (const auto& l : dense) shares.push_back(backend_->ShareLinear(*l, true));
    return shares;
  };
  // Column-parallel: this rank's rows [part*r, part*(r+1)); row-parallel: its columns.
  auto linear = [&](const std::string& name, int axis, int64_t part, int64_t out,
                    int64_t in) -> absl::StatusOr<std::unique_ptr<Linear>> {
    QSWEEP_CHECK(axis == 0);
    QSWEEP_ASSIGN_OR_RETURN(std::optional<QuantizedWeights> packed, stored(name, part * r, part * (r + 1)));
    if (packed) {
      ++stored_projections_;
      return backend_->CreateLinear(name, LinearRole::kProjection, PackedLinearOf(*std::move(packed)));
    }
    const WeightFormat f = FormatFor(scheme, name);
    if (on_device(name, f, in, true)) {
      auto rows = [&](int64_t, int64_t begin, int64_t end, std::span<uint16_t> bits) {
        return read_bf16(name, part * r + begin, part * r + end, 0, in, bits);
      };
      QSWEEP_ASSIGN_OR_RETURN(Layers l, from_device(name, LinearRole::kProjection, f, 1, rows, out, in));
      return std::move(l[0]);
    }
    QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, read(name, axis, part * r, part * (r + 1)));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q, QuantizeTensor(scheme, name, std::move(w), out, in));
    return backend_->CreateLinear(name, LinearRole::kProjection, std::move(q));
  };
  auto upload = [&](std::vector<float> v) { return backend_->Upload(v); };
  // Row-parallel: this rank's parts [r·L, (r+1)·L) of the `all` column
  // ranges, with the codes and scales of the whole tensor.
  auto row_parallel = [&](const std::string& name, int64_t out, int64_t in_total,
                          int64_t all) -> absl::StatusOr<std::vector<std::unique_ptr<Linear>>> {
    const int64_t parts = all / options_.tp_size;
    QSWEEP_ASSIGN_OR_RETURN(std::optional<QuantizedWeights> packed, stored(name, 0, out));
    const int64_t width = in_total / all;
    if (packed && width % packed->group_size() == 0) {
      ++stored_projections_;
      const std::unique_ptr<PackedLinear> whole = PackedLinearOf(*std::move(packed));
      std::vector<std::unique_ptr<PackedLinear>> mine;
      for (int64_t p = r * parts; p < (r + 1) * parts; ++p)
        mine.push_back(whole->SliceColumns(p * width, (p + 1) * width));
      return backend_->CreateLinearParts(name, std::move(mine));
    }
    const WeightFormat f = FormatFor(scheme, name);
    if (on_device(name, f, width, parts == all)) {
      auto part_rows = [&](int64_t p, int64_t begin, int64_t end, std::span<uint16_t> bits) {
        return read_bf16(name, begin, end, (r * parts + p) * width, (r * parts + p + 1) * width, bits);
      };
      return from_device(name, LinearRole::kProjection, f, parts, part_rows, out, width);
    }
    // Parts that do not cut on groups are read as the scheme holds them.
    auto columns = [&](int64_t begin, int64_t end) { return read(name, 1, begin, end); };
    QSWEEP_ASSIGN_OR_RETURN(auto q, QuantizeRowParallelParts(scheme, name, out, in_total, r * parts, parts, all,
                                                             columns));
    return backend_->CreateLinearParts(name, std::move(q));
  };

  QSWEEP_ASSIGN_OR_RETURN(std::vector<float> emb, whole(EmbedName()));
  RoundToUnquantizedFormat(scheme, emb);
  QSWEEP_ASSIGN_OR_RETURN(embedding_, backend_->UploadEmbedding(emb));
  QSWEEP_ASSIGN_OR_RETURN(std::vector<float> fnorm, whole(FinalNormName()));
  QSWEEP_ASSIGN_OR_RETURN(final_norm_, upload(std::move(fnorm)));
  QSWEEP_ASSIGN_OR_RETURN(inv_freq_, upload(RopeInverseFrequencies(c)));

  const std::string head_source = c.tie_word_embeddings ? EmbedName() : LmHeadName();
  const int64_t vslice = vocab_end_ - vocab_begin_;
  auto head_rows = [&](int64_t, int64_t begin, int64_t end, std::span<uint16_t> bits) {
    return read_bf16(head_source, vocab_begin_ + begin, vocab_begin_ + end, 0, c.hidden_size, bits);
  };
  const WeightFormat head_format = FormatFor(scheme, LmHeadName());
  if (on_device(head_source, head_format, c.hidden_size, true)) {
    QSWEEP_ASSIGN_OR_RETURN(Layers l, from_device(LmHeadName(), LinearRole::kHead, head_format, 1, head_rows, vslice,
                                                  c.hidden_size));
    head_ = std::move(l[0]);
  } else {
    QSWEEP_ASSIGN_OR_RETURN(std::vector<float> head_w, read(head_source, 0, vocab_begin_, vocab_end_));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> head_q,
                            QuantizeTensor(scheme, LmHeadName(), std::move(head_w), vslice, c.hidden_size));
    QSWEEP_ASSIGN_OR_RETURN(head_, backend_->CreateLinear(LmHeadName(), LinearRole::kHead, std::move(head_q)));
  }
  const WeightFormat base_head_format =
      options_.pair_baseline ? FormatFor(*options_.pair_baseline, LmHeadName()) : head_format;
  if (options_.pair_baseline && !options_.pair_baseline_checkpoint && base_head_format != head_format &&
      held && base_head_format == dense_bf16 && on_device(head_source, base_head_format, c.hidden_size, true)) {
    QSWEEP_ASSIGN_OR_RETURN(Layers l, from_device(LmHeadName(), LinearRole::kHead, base_head_format, 1, head_rows,
                                                  vslice, c.hidden_size));
    base_head_ = std::move(l[0]);
  } else if (options_.pair_baseline && (options_.pair_baseline_checkpoint || base_head_format != head_format)) {
    const Checkpoint& base = options_.pair_baseline_checkpoint ? *options_.pair_baseline_checkpoint : ckpt;
    const std::string base_head = base.config().tie_word_embeddings ? EmbedName() : LmHeadName();
    if (!base.Find(base_head))
      return absl::NotFoundError(absl::StrFormat("%s: missing tensor '%s'", base.source(), base_head));
    std::vector<float> w((vocab_end_ - vocab_begin_) * c.hidden_size);
    QSWEEP_RETURN_IF_ERROR(base.ReadSlice(base_head, 0, vocab_begin_, vocab_end_, w));
    QSWEEP_RETURN_IF_ERROR(CheckFinite(base, base_head, w));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q, QuantizeTensor(*options_.pair_baseline, LmHeadName(),
                                                                            std::move(w), vslice, c.hidden_size));
    QSWEEP_ASSIGN_OR_RETURN(base_head_, backend_->CreateLinear(LmHeadName(), LinearRole::kHead, std::move(q)));
  }

  const int64_t hd = c.head_dim, qd = local_heads_ * hd, kvd = local_kv_heads_ * hd;
  const int64_t im = local_intermediate_, dm = c.hidden_size;
  layers_.resize(c.num_layers);
  Progress progress(absl::StrFormat("loading %s", SchemeName(options_.scheme)), c.num_layers, "layers",
                    options_.load_progress, 10.0);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    if (i > 0) progress.Advance();
    Layer& L = layers_[i];
    auto n = [&](const char* suffix) { return LayerTensorName(i, suffix); };
    QSWEEP_ASSIGN_OR_RETURN(std::vector<float> an, whole(n("input_layernorm.weight")));
    QSWEEP_ASSIGN_OR_RETURN(L.attn_norm, upload(std::move(an)));
    QSWEEP_ASSIGN_OR_RETURN(std::vector<float> mn, whole(n("post_attention_layernorm.weight")));
    QSWEEP_ASSIGN_OR_RETURN(L.mlp_norm, upload(std::move(mn)));
    QSWEEP_ASSIGN_OR_RETURN(L.q, linear(n("self_attn.q_proj.weight"), 0, qd, qd, dm));
    QSWEEP_ASSIGN_OR_RETURN(L.k, linear(n("self_attn.k_proj.weight"), 0, kvd, kvd, dm));
    QSWEEP_ASSIGN_OR_RETURN(L.v, linear(n("self_attn.v_proj.weight"), 0, kvd, kvd, dm));
    QSWEEP_ASSIGN_OR_RETURN(L.o, row_parallel(n("self_attn.o_proj.weight"), dm, c.q_dim(), o_parts_));
    QSWEEP_ASSIGN_OR_RETURN(L.gate, linear(n("mlp.gate_proj.weight"), 0, im, im, dm));
    QSWEEP_ASSIGN_OR_RETURN(L.up, linear(n("mlp.up_proj.weight"), 0, im, im, dm));
    QSWEEP_ASSIGN_OR_RETURN(L.down, row_parallel(n("mlp.down_proj.weight"), dm, c.intermediate_size, down_parts_));
    if (c.attention_bias) {
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> qb, read(n("self_attn.q_proj.bias"), 0, qd * r, qd * (r + 1)));
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> kb, read(n("self_attn.k_proj.bias"), 0, kvd * r, kvd * (r + 1)));
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> vb, read(n("self_attn.v_proj.bias"), 0, kvd * r, kvd * (r + 1)));
      QSWEEP_ASSIGN_OR_RETURN(L.q_bias, upload(std::move(qb)));
      QSWEEP_ASSIGN_OR_RETURN(L.k_bias, upload(std::move(kb)));
      QSWEEP_ASSIGN_OR_RETURN(L.v_bias, upload(std::move(vb)));
    }
  }
  return absl::OkStatus();
}

std::vector<Decoder::TokenBuffer> Decoder::TokenBuffers() {
  const int64_t hd = config_.head_dim, tp = options_.tp_size, hidden = config_.hidden_size;
  const bool slices = !backend_->ReadsSlicesInPlace();
  part_in_o_.resize(slices && o_parts_ > tp ? o_parts_ / tp : 0);
  part_in_down_.resize(slices && down_parts_ > tp ? down_parts_ / tp : 0);
  part_out_.resize(std::max(o_parts_, down_parts_) / tp);
  constexpr ActRole kSum = ActRole::kAccumulate, kCompute = ActRole::kCompute;
  std::vector<TokenBuffer> b = {{&x_, hidden, kSum},
                                {&h_, hidden, kCompute},
                                {&q_, local_heads_ * hd, kCompute},
                                {&attn_, local_heads_ * hd, kCompute},
                                {&k_, local_kv_heads_ * hd, kCompute},
                                {&v_, local_kv_heads_ * hd, kCompute},
                                {&gate_, local_intermediate_, kCompute},
                                {&up_, local_intermediate_, kCompute},
                                {&part_out_all_, hidden * static_cast<int64_t>(part_out_.size()), kCompute}};
  for (Act& a : part_in_o_) b.push_back({&a, config_.q_dim() / o_parts_, kCompute});
  for (Act& a : part_in_down_) b.push_back({&a, config_.intermediate_size / down_parts_, kCompute});
  return b;
}

TokenWidths Decoder::Widths() const {
  return TokenWidths{.hidden = config_.hidden_size,
                     .q = local_heads_ * config_.head_dim,
                     .kv = local_kv_heads_ * config_.head_dim,
                     .intermediate = local_intermediate_,
                     .head_dim = config_.head_dim,
                     .tp = options_.tp_size};
}

// The decoder's buffers per batch token at the backend's element sizes,
// plus the backend's own per-forward scratch.
int64_t Decoder::ActivationBytesPerToken() {
  int64_t bytes = 0;
  for (const TokenBuffer& b : TokenBuffers()) bytes += b.cols * backend_->ElementBytes(b.role);
  return bytes + backend_->ScratchBytesPerToken(Widths());
}

absl::Status Decoder::PlanBatchTokens(int64_t free_before) {
  const int64_t per_token = ActivationBytesPerToken();
  const int64_t cache = 2 * config_.num_layers * options_.cache_rows * local_kv_heads_ * config_.head_dim *
                        backend_->ElementBytes(ActRole::kCompute);
  const int64_t fixed = 4 * options_.max_head_rows * (2 * config_.hidden_size + (vocab_end_ - vocab_begin_)) *
                            (options_.pair_baseline ? 2 : 1) +
                        cache;
  int64_t tokens = options_.max_batch_tokens;
  std::string why = "as configured";
  if (tokens == 0) {
    const int64_t free = backend_->FreeMemoryBytes();
    if (free < 0) {
      tokens = 4096;
      why = "default (the backend reports no device memory)";
    } else {
      // Keep a tenth of what is free (and 512 MiB) for cuBLASLt, NCCL and
      // the per-forward scratch, so nothing is allocated mid-run.
      const int64_t usable = free - free / 10 - (int64_t{512} << 20) - fixed;
      tokens = std::min<int64_t>(usable / per_token / 256 * 256, 65536);
      why = absl::StrFormat("from %.1f GiB free after the weights", free / double(1 << 30));
      if (tokens < 256)
        return absl::ResourceExhaustedError(absl::StrFormat(
            "too little device memory for a batch of 256 tokens (%.2f GiB free after the weights, %.1f KiB "
            "per token): use more tensor parallelism or set scoring.batch_tokens",
            free / double(1 << 30), per_token / 1024.0));
    }
    if (options_.agree_batch_tokens) tokens = options_.agree_batch_tokens(tokens);
  } else if (const int64_t free = backend_->FreeMemoryBytes();
             free >= 0 && double(tokens) * per_token + fixed > double(free)) {
    // In double: a configured size near 2^63 must be refused, not wrap.
    return absl::ResourceExhaustedError(absl::StrFormat(
        "scoring.batch_tokens %d needs %.2f GiB of device memory (%.1f KiB per token and %.2f GiB for the head), "
        "%.2f GiB are free after the weights: lower it, use 'auto', or use more tensor parallelism",
        tokens, (double(tokens) * per_token + fixed) / double(1 << 30), per_token / 1024.0,
        fixed / double(1 << 30), free / double(1 << 30)));
  }
  options_.max_batch_tokens = tokens;
  const int64_t free_after = backend_->FreeMemoryBytes();
  memory_plan_ = absl::StrFormat("batch of %d tokens (%s): %sactivations %.2f GiB, head %.2f GiB", tokens, why,
                                 free_before >= 0 && free_after >= 0
                                     ? absl::StrFormat("weights %.2f GiB, ", (free_before - free_after) / double(1 << 30))
                                     : "",
                                 tokens * per_token / double(1 << 30), (fixed - cache) / double(1 << 30));
  if (cache) memory_plan_ += absl::StrFormat(", KV cache %.2f GiB (%d rows)", cache / double(1 << 30), options_.cache_rows);
  return absl::OkStatus();
}

absl::Status Decoder::AllocateBuffers() {
  const int64_t tokens = options_.max_batch_tokens, head_rows = options_.max_head_rows;
  for (const TokenBuffer& b : TokenBuffers()) {
    QSWEEP_ASSIGN_OR_RETURN(*b.act, backend_->Alloc(tokens, b.cols, b.role, "the decoder's activations"));
  }
  const int64_t hidden = config_.hidden_size, bytes = DTypeBytes(part_out_all_.dtype);
  for (size_t p = 0; p < part_out_.size(); ++p)
    part_out_[p] = Act{static_cast<char*>(part_out_all_.data) + p * tokens * hidden * bytes, tokens, hidden,
                       part_out_all_.dtype};
  QSWEEP_ASSIGN_OR_RETURN(sel_, backend_->Alloc(head_rows, hidden, ActRole::kAccumulate, "the head's rows"));
  QSWEEP_ASSIGN_OR_RETURN(sel_norm_, backend_->Alloc(head_rows, hidden, ActRole::kCompute, "the head's rows"));
  QSWEEP_ASSIGN_OR_RETURN(logits_, backend_->Alloc(head_rows, vocab_end_ - vocab_begin_, ActRole::kAccumulate,
                                                   "the logits"));
  if (options_.pair_baseline) {
    QSWEEP_ASSIGN_OR_RETURN(base_norm_, backend_->Alloc(head_rows, hidden, ActRole::kCompute, "the baseline's rows"));
    QSWEEP_ASSIGN_OR_RETURN(base_logits_, backend_->Alloc(head_rows, vocab_end_ - vocab_begin_, ActRole::kAccumulate,
                                                          "the baseline's logits"));
  }
  if (options_.cache_rows > 0) {
    for (auto* cache : {&k_cache_, &v_cache_}) {
      cache->resize(config_.num_layers);
      for (Act& a : *cache) {
        QSWEEP_ASSIGN_OR_RETURN(a, backend_->Alloc(options_.cache_rows, local_kv_heads_ * config_.head_dim,
                                                   ActRole::kCompute, "the KV cache"));
      }
    }
  }
  return backend_->ReserveScratch(tokens, head_rows, Widths());
}

// Views of the first `rows` rows of a buffer.
static Act Rows(const Act& a, int64_t rows) { return a.Rows(rows); }

void Decoder::RowParallelAdd(const std::vector<std::unique_ptr<Linear>>& parts, const Act& in,
                             std::vector<Act>& ins) {
  const int64_t n = in.rows;
  std::vector<Act> in_views, outs;
  for (size_t p = 0; p < parts.size(); ++p) {
    if (!ins.empty()) in_views.push_back(Rows(ins[p], n));
    outs.push_back(Rows(part_out_[p], n));
  }
  backend_->RowParallelAdd(parts, in, in_views, outs, x_);
}

void Decoder::RunLayer(const Layer& L, const LinearInputTap* tap, int64_t cache, LayerSpan span) {
  const int64_t n = x_.rows;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  Act h = Rows(h_, n), q = Rows(q_, n), k = Rows(k_, n), v = Rows(v_, n), a = Rows(attn_, n),
      g = Rows(gate_, n), u = Rows(up_, n);
  if (span != LayerSpan::kMlpToHidden) {
    backend_->RmsNorm(x_, *L.attn_norm, eps, h);
    if (tap) (*tap)(LinearInput::kAttention, h);
    const Linear* qkv[] = {L.q.get(), L.k.get(), L.v.get()};
    Act* qkv_out[] = {&q, &k, &v};
    backend_->MatmulSameInput(qkv, h, qkv_out);
    if (L.q_bias) {
      backend_->AddBias(*L.q_bias, q);
      backend_->AddBias(*L.k_bias, k);
      backend_->AddBias(*L.v_bias, v);
    }
    backend_->Rotary(*inv_freq_, config_.head_dim, q);
    backend_->Rotary(*inv_freq_, config_.head_dim, k);
    if (cache < 0) {
      backend_->Attention(q, k, v, config_.head_dim, a);
    } else {
      backend_->WriteCache(k, k_cache_[cache]);
      backend_->WriteCache(v, v_cache_[cache]);
      if (reads_cache_)
        backend_->CachedAttention(q, k_cache_[cache], v_cache_[cache], config_.head_dim, a);
      else
        backend_->Attention(q, k, v, config_.head_dim, a);
    }
    if (tap) (*tap)(LinearInput::kAttentionOutput, a);
    if (span == LayerSpan::kToAttentionOutput) return;
    RowParallelAdd(L.o, a, part_in_o_);
  }
  backend_->RmsNorm(x_, *L.mlp_norm, eps, h);
  if (tap) (*tap)(LinearInput::kMlp, h);
  const Linear* gate_up[] = {L.gate.get(), L.up.get()};
  Act* gate_up_out[] = {&g, &u};
  backend_->MatmulSameInput(gate_up, h, gate_up_out);
  backend_->SwiGlu(g, u, g);
  if (tap) (*tap)(LinearInput::kMlpHidden, g);
  if (span != LayerSpan::kWhole) return;
  RowParallelAdd(L.down, g, part_in_down_);
}

absl::Status Decoder::CheckCacheLayout(const SequenceLayout& l) const {
  const size_t n = l.positions.size();
  if (!l.writes_cache()) {
    if (l.reads_cache()) return absl::InvalidArgumentError("a layout that reads the KV cache must write it");
    return absl::OkStatus();
  }
  if (options_.cache_rows == 0) return absl::FailedPreconditionError("the decoder holds no KV cache (cache_rows 0)");
  if (l.cache_row.size() != n || (l.reads_cache() && l.cache_begin.size() != n))
    return absl::InvalidArgumentError(absl::StrFormat("a KV cache layout of %d and %d rows for a batch of %d",
                                                      l.cache_row.size(), l.cache_begin.size(), n));
  if (l.reads_cache() && static_cast<int64_t>(n) > kMaxDecodeRows)
    return absl::InvalidArgumentError(
        absl::StrFormat("a decode step of %d rows (at most %d sequences decode together)", n, kMaxDecodeRows));
  for (size_t r = 0; r < n; ++r) {
    const int64_t row = l.cache_row[r];
    if (row < -1 || row >= options_.cache_rows || (l.reads_cache() && row < 0))
      return absl::InvalidArgumentError(
          absl::StrFormat("batch row %d writes KV cache row %d of %d", r, row, options_.cache_rows));
    if (l.reads_cache() && (l.cache_begin[r] < 0 || l.cache_begin[r] > row))
      return absl::InvalidArgumentError(
          absl::StrFormat("batch row %d attends to KV cache rows [%d, %d]", r, l.cache_begin[r], row));
  }
  return absl::OkStatus();
}

absl::Status Decoder::Forward(const TokenBatch& batch, std::span<const int64_t> rows,
                              std::span<const int32_t> targets, int topk, bool full_rows,
                              std::vector<LogitStats>* chunks, const RowPairing& pairing,
                              std::vector<float>* hidden) {
  const int64_t n = batch.rows(), dim = config_.hidden_size;
  QSWEEP_CHECK(rows.size() == targets.size());
  const bool paired = pairing.compares();
  QSWEEP_CHECK(!paired || options_.pair_baseline);
  const size_t given = pairing.base_hidden.size() + pairing.base_hidden_bf16.size();
  if (paired && (given != rows.size() * dim || (!pairing.base_hidden.empty() && !pairing.base_hidden_bf16.empty())))
    return absl::InvalidArgumentError(absl::StrFormat("the baseline's hidden states hold %d values for %d rows of %d",
                                                      given, rows.size(), dim));
  QSWEEP_CHECK(!pairing.keep_hidden || hidden);
  if (n == 0 || n > options_.max_batch_tokens)
    return absl::InvalidArgumentError(absl::StrFormat(
        "batch of %d tokens (capacity %d tokens)", n, options_.max_batch_tokens));
  for (int32_t t : batch.tokens)
    if (t < 0 || t >= config_.vocab_size)
      return absl::InvalidArgumentError(
          absl::StrFormat("token id %d outside the vocabulary [0, %d)", t, config_.vocab_size));
  QSWEEP_CHECK(batch.layout.rows() == n);
  QSWEEP_RETURN_IF_ERROR(CheckCacheLayout(batch.layout));
  backend_->SetLayout(batch.layout);
  const bool cached = batch.layout.writes_cache();
  reads_cache_ = batch.layout.reads_cache();

  Act full_x = x_;
  x_.rows = n;
  backend_->Embed(*embedding_, config_.hidden_size, batch.tokens, x_);
  auto layers = [&] {
    for (size_t l = 0; l < layers_.size(); ++l) RunLayer(layers_[l], nullptr, cached ? static_cast<int64_t>(l) : -1);
  };
  // A decode step: the same few rows again and again, so the backend may
  // record the layers once per shape and replay them.
  if (reads_cache_)
    backend_->RunRecorded(static_cast<uint64_t>(n), layers);
  else
    layers();

  // The head runs only on the rows asked for, a chunk at a time.
  chunks->assign(vocab_chunks_, LogitStats{});
  const int64_t chunk0 = options_.tp_rank * vocab_chunks_, v = config_.vocab_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  if (pairing.keep_hidden) hidden->reserve(hidden->size() + rows.size() * dim);
  for (size_t begin = 0; begin < rows.size(); begin += options_.max_head_rows) {
    const size_t end = std::min(rows.size(), begin + options_.max_head_rows);
    const int64_t m = static_cast<int64_t>(end - begin);
    Act sel = Rows(sel_, m), seln = Rows(sel_norm_, m), logits = Rows(logits_, m);
    backend_->GatherRows(x_, rows.subspan(begin, m), sel);
    backend_->RmsNorm(sel, *final_norm_, eps, seln);
    backend_->Matmul(*head_, seln, logits);
    if (pairing.keep_hidden) {
      const std::vector<float> h = backend_->Download(seln);
      hidden->insert(hidden->end(), h.begin(), h.end());
    }
    Act base_logits = Rows(base_logits_, m);
    if (paired) {
      // The baseline's logits as its run computed them: its head on its
      // hidden states, which the compute type holds exactly.
      Act base_norm = Rows(base_norm_, m);
      if (pairing.base_hidden_bf16.empty())
        backend_->UploadTo(pairing.base_hidden.subspan(begin * dim, m * dim), base_norm);
      else
        backend_->UploadBf16(pairing.base_hidden_bf16.subspan(begin * dim, m * dim), base_norm);
      backend_->Matmul(base_head_ ? *base_head_ : *head_, base_norm, base_logits);
    }
    for (int c = 0; c < vocab_chunks_; ++c) {
      const int64_t lo = v * (chunk0 + c) / kCanonicalParts, hi = v * (chunk0 + c + 1) / kCanonicalParts;
      LogitStats part;
      backend_->LogitStatistics(logits, lo - vocab_begin_, hi - vocab_begin_, targets.subspan(begin, m),
                                topk, full_rows, lo, &part);
      if (paired)
        backend_->PairLogitStatistics(base_logits, logits, lo - vocab_begin_, hi - vocab_begin_,
                                      targets.subspan(begin, m), lo, &part);
      LogitStats& stats = (*chunks)[c];
      stats.vocab_begin = lo;
      ForEachArray([](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); }, stats, part);
    }
  }
  x_ = full_x;
  return absl::OkStatus();
}

}  // namespace qsweep
