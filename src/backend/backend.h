// The operations the decoder needs, implemented once per device. The decoder
// (src/model/decoder.cc) is written against this interface only; the CPU
// backend is the fp32 reference every CUDA kernel is tested against.
//
// Activations (`Act`) are row-major [rows, cols] matrices in the backend's
// own memory and element type (fp32 on the CPU; on the GPU fp32, or bf16 for
// the compute buffers of a bf16 model); the decoder never dereferences them.
//
// Weights reach a backend already in their format (quant/tensor_quantizer.h
// quantizes; a backend never sees a scheme): CreateLinear stores a
// PackedLinear in the backend's own layout and picks its kernel by format.
// A backend may also round its own dense layers to nearest in a format
// (QuantizeLinearParts), equal bit for bit to the quant room's reference.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/packed_linear.h"
#include "quant/smoothquant.h"

namespace qsweep {

struct Act {
  void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  DType dtype = DType::kF32;

  int64_t bytes() const { return rows * cols * DTypeBytes(dtype); }
  // A view of the first `n` rows.
  Act Rows(int64_t n) const { return Act{data, n, cols, dtype}; }
};

// What a buffer holds, so that a backend can choose its element type: the
// residual stream, sums of parts and logits accumulate and stay fp32; the
// other activations are compute inputs and outputs, which a backend may hold
// at the model's precision (the GPU holds a bf16 model's in bf16, as HF
// transformers runs it).
enum class ActRole { kAccumulate, kCompute };

// Σ x xᵀ over the rows of every layer input added (GPTQ's Hessian of a
// linear layer's inputs, model/decoder_calibration.cc), summed where the
// inputs are. The host's (quant/gptq.h HessianAccumulator) sums in double;
// a device may sum in fp32 (each product of bf16 inputs is exact in fp32).
class HessianSum {
 public:
  virtual ~HessianSum() = default;
  virtual void Add(const Act& x) = 0;  // x [rows, in]
  virtual int64_t tokens() const = 0;
  // H = 2/n Σ x xᵀ, fp32 [in, in] on the host, symmetric.
  virtual std::vector<float> Hessian() = 0;
};

// Per column Σ|x| and max |x| over the rows of every input added (AWQ's
// mean |x|, SmoothQuant's max |x|), summed where the inputs are. The host's
// (ActMeanAbs, ActAbsMax) sums in double in row order; a device sums in
// double in its own fixed order.
class ColumnAbsStats {
 public:
  virtual ~ColumnAbsStats() = default;
  virtual void Add(const Act& x) = 0;  // x [rows, in]
  virtual std::vector<float> MeanAbs() = 0;  // ActMeanAbs::values
  virtual std::vector<float> AbsMax() = 0;   // ActAbsMax::values
};

// AWQ's transform of a weight before round to nearest (quant/awq.h): its
// columns multiplied by `column_scales`, then each value clamped to ±clip
// of its (row, group) ([out][groups] of the whole weight). Empty: none.
struct AwqTransform {
  std::span<const float> column_scales, clip;
  bool empty() const { return column_scales.empty() && clip.empty(); }
};

// A weight vector resident on the device (norm weights, biases, embeddings).
class DeviceArray {
 public:
  virtual ~DeviceArray() = default;
  virtual int64_t size() const = 0;
};

// A linear layer y = x·Wᵀ holding its (possibly packed) weights; it picks its
// kernel by format, so low-bit kernels plug in without touching the decoder.
// The head (the vocabulary projection) is timed as a stage of its own.
enum class LinearRole { kProjection, kHead };

class Linear {
 public:
  virtual ~Linear() = default;
  virtual int64_t out_features() const = 0;
  virtual int64_t in_features() const = 0;
};

// Where each row of a packed batch sits: its rotary position and the rows it
// attends to, [seq_begin, prefix_end) ∪ [branch_begin, row]. A plain causal
// sequence has prefix_end = branch_begin = seq_begin; a shared context with
// several continuations ("branches") packs the context once and lets each
// branch see the context and itself only, so the context is computed once.
//
// Generation keeps a KV cache (DecoderOptions::cache_rows rows per layer):
// `cache_row[r]` is where row r's key and value are written (-1: nowhere, a
// padding row), and when `cache_begin` is given every row attends to the
// cache instead of the batch, over cache rows [cache_begin[r], cache_row[r]]
// (a decode step: one row per sequence, its own key written first). Both
// empty: no cache. A decode step has at most kMaxDecodeRows rows: backends
// may run it on kernels whose result for a row is independent of the other
// rows only up to that count.
inline constexpr int64_t kMaxDecodeRows = 64;
struct SequenceLayout {
  std::vector<int32_t> positions;
  std::vector<int64_t> seq_begin, prefix_end, branch_begin;
  std::vector<int64_t> cache_row, cache_begin;
  int64_t rows() const { return static_cast<int64_t>(positions.size()); }
  bool writes_cache() const { return !cache_row.empty(); }
  bool reads_cache() const { return !cache_begin.empty(); }
};

// Per-row statistics of log-softmax over this rank's slice of the vocabulary
// (the whole vocabulary when not vocab-parallel), for the rows asked for.
struct LogitStats {
  int64_t vocab_begin = 0;               // first vocabulary id of the slice
  std::vector<float> max;                // [n] max logit
  std::vector<float> sum_exp;            // [n] Σ exp(logit - max)
  std::vector<float> target_logit;       // [n] NaN when the target is outside the slice
  std::vector<int32_t> topk_id;          // [n, k] global ids, logits descending
  std::vector<float> topk_logit;         // [n, k]
  std::vector<float> logits;             // [n, V_slice] only when full rows are asked for
  // Against a baseline's logits b of the same rows (PairLogitStatistics; empty
  // otherwise), c being this model's: the exact token statistics' per-slice
  // parts, each element's terms in fp64 (model/row_scores.h combines them).
  std::vector<float> base_max;           // [n] max_v b_v
  std::vector<int32_t> base_argmax;      // [n] the lowest global id reaching it
  std::vector<float> base_target_logit;  // [n] b[target]; NaN when the target is outside the slice
  std::vector<float> cand_max;           // [n] max_v c_v
  std::vector<double> base_sum;          // [n] Σ exp(b_v − base_max)
  std::vector<double> cand_sum;          // [n] Σ exp(c_v − cand_max)
  std::vector<double> base_dot;          // [n] Σ exp(b_v − base_max)·(b_v − c_v)
  std::vector<double> cand_dot;          // [n] Σ exp(c_v − cand_max)·(c_v − b_v)
};

// The pair arrays alone (PairLogitStatistics' outputs).
template <typename F, typename... Stats>
void ForEachPairArray(F&& f, Stats&... s) {
  f(s.base_max...);
  f(s.base_argmax...);
  f(s.base_target_logit...);
  f(s.cand_max...);
  f(s.base_sum...);
  f(s.cand_sum...);
  f(s.base_dot...);
  f(s.cand_dot...);
}

// LogitStats' per-row arrays (all but vocab_begin), for whatever moves or
// joins them whole: f(that array of each LogitStats given).
template <typename F, typename... Stats>
void ForEachArray(F&& f, Stats&... s) {
  f(s.max...);
  f(s.sum_exp...);
  f(s.target_logit...);
  f(s.topk_id...);
  f(s.topk_logit...);
  f(s.logits...);
  ForEachPairArray(f, s...);
}


// The order of every top-k list: the larger logit first, then the lower id
// (as torch.topk); NaN after every number, by id, which keeps the order
// total (a strict weak order for sorts) on rows a broken scheme filled with
// NaN. The GPU kernels' device twin is kernels' Before (decoder_kernels.cu).
inline bool TopKBefore(float v, int32_t i, float w, int32_t j) {
  if (std::isnan(v) || std::isnan(w)) return std::isnan(v) != std::isnan(w) ? std::isnan(w) : i < j;
  return v > w || (v == w && i < j);
}

// The widths of a rank's per-token buffers, for a backend's scratch estimate.
struct TokenWidths {
  int64_t hidden = 0;        // the residual stream
  int64_t q = 0, kv = 0;     // this rank's query and key/value columns
  int64_t intermediate = 0;  // this rank's MLP columns
  int64_t head_dim = 0;
  int tp = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // The device, for run files and benchmark tables (e.g. "NVIDIA H200").
  virtual std::string DeviceName() const = 0;

  // The model's precision (fp32, fp16 or bf16: the scheme's unquantized
  // format). The backend holds kCompute activations at the precision it
  // computes such a model in (compute_type()); set before weights and
  // buffers are made.
  virtual void SetModelPrecision(DType precision) {}
  virtual DType compute_type() const { return DType::kF32; }

  // Device memory free now, in bytes; -1 where the backend does not manage
  // a device (the CPU's activations live in host memory).
  virtual int64_t FreeMemoryBytes() const { return -1; }
  // Out of device memory is an error naming `what` and the bytes asked for.
  virtual absl::StatusOr<Act> Alloc(int64_t rows, int64_t cols, ActRole role = ActRole::kAccumulate,
                                    std::string_view what = "activations") = 0;
  // Bytes per element of a buffer Alloc makes for `role` (for memory plans).
  int ElementBytes(ActRole role) const {
    return role == ActRole::kCompute ? DTypeBytes(compute_type()) : 4;
  }
  // Bytes per batch token the backend's own per-forward scratch takes beyond
  // the decoder's buffers (for the memory plan).
  virtual int64_t ScratchBytesPerToken(const TokenWidths&) const { return 0; }
  // Allocates the per-forward scratch for batches of up to `tokens` rows and
  // `head_rows` logit rows, so that no forward allocates.
  virtual absl::Status ReserveScratch(int64_t tokens, int64_t head_rows, const TokenWidths&) {
    return absl::OkStatus();
  }
  virtual void Free(Act& a) = 0;
  virtual absl::StatusOr<std::unique_ptr<DeviceArray>> Upload(std::span<const float> values) = 0;
  // The embedding table (what Embed reads): a backend may hold it at the
  // model's precision where that holds every value exactly.
  virtual absl::StatusOr<std::unique_ptr<DeviceArray>> UploadEmbedding(std::span<const float> values) {
    return Upload(values);
  }
  // Copies between host fp32 and an activation of any element type.
  virtual std::vector<float> Download(const Act& a) = 0;
  virtual void UploadTo(std::span<const float> values, Act& a) = 0;
  // bfloat16 bits into an activation (a backend holding it in bf16 copies
  // them as they are; others widen them).
  virtual void UploadBf16(std::span<const uint16_t> bits, Act& a) {
    std::vector<float> values(bits.size());
    for (size_t i = 0; i < bits.size(); ++i) values[i] = BF16ToFloat(bits[i]);
    UploadTo(values, a);
  }
  // Waits for every operation issued so far.
  virtual void Synchronize() {}

  // The layer of weights `w` (`name`: the canonical tensor name, for errors).
  virtual absl::StatusOr<std::unique_ptr<Linear>> CreateLinear(std::string_view name, LinearRole role,
                                                               std::unique_ptr<PackedLinear> w) = 0;
  // A row-parallel layer's parts, each [out, width] of one input-column
  // range (quant/tensor_quantizer.h QuantizeRowParallelParts); a backend may
  // lay them out one after another to run them as one batched GEMM.
  virtual absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateLinearParts(
      std::string_view name, std::vector<std::unique_ptr<PackedLinear>> parts) = 0;
  // Writes rows [row_begin, row_end) of part `part` of a dense layer, as
  // bf16 bits, into `bits` ([row_end - row_begin, width], row-major).
  using Bf16Rows =
      std::function<absl::Status(int64_t part, int64_t row_begin, int64_t row_end, std::span<uint16_t> bits)>;
  // A dense bf16 layer of `count` column parts [out, width] (one part: a
  // layer of `role`; several: CreateLinearParts' projection parts), whose
  // values `rows` writes into host memory of the backend's choosing, in row
  // blocks of its choosing: a GPU stages them in pinned buffers and copies
  // each block while the next is written, with no fp32 or pageable copy of
  // the layer. The same layers as CreateLinear / CreateLinearParts of
  // QuantizeLinear(WeightFormat::Dense(16), values).
  virtual absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateDenseBf16(std::string_view name,
                                                                               LinearRole role, int64_t count,
                                                                               int64_t out, int64_t width,
                                                                               const Bf16Rows& rows) {
    std::vector<std::unique_ptr<PackedLinear>> parts;
    std::vector<uint16_t> bits(out * width);
    for (int64_t p = 0; p < count; ++p) {
      if (absl::Status st = rows(p, 0, out, bits); !st.ok()) return st;
      std::vector<float> w(bits.size());
      for (size_t i = 0; i < bits.size(); ++i) w[i] = BF16ToFloat(bits[i]);
      absl::StatusOr<std::unique_ptr<PackedLinear>> d = QuantizeLinear(WeightFormat::Dense(16), std::move(w), out, width);
      if (!d.ok()) return d.status();
      parts.push_back(*std::move(d));
    }
    if (count > 1) return CreateLinearParts(name, std::move(parts));
    absl::StatusOr<std::unique_ptr<Linear>> l = CreateLinear(name, role, std::move(parts[0]));
    if (!l.ok()) return l.status();
    std::vector<std::unique_ptr<Linear>> one;
    one.push_back(*std::move(l));
    return one;
  }
  // Another handle on dense layer `l`'s weights, shared rather than copied
  // (a sweep keeps its model's dense weights across schemes through these).
  // `counted`: its bytes count among this backend's weights (WeightBytes)
  // while it lives, as those of a layer the decoder runs do; a copy kept
  // aside (held_weights.h) is not counted.
  virtual std::unique_ptr<Linear> ShareLinear(const Linear& l, bool counted) = 0;
  // Round to nearest on the backend's own device, the twin of
  // quant/quantized_weights.h QuantizeWeights: the weight whose column parts
  // are `dense` (dense layers this backend made, in column order, of one
  // width) in `format`, cut into the same parts. Each part holds the codes
  // and scales of the whole weight's quantization in its columns, as
  // QuantizeRowParallelParts cuts them (per channel: one scale over the whole
  // row), so the parts cut on groups. Bit for bit the layers of
  // CreateLinearParts(QuantizeRowParallelParts(...)) of the same values. For
  // the formats QuantizesOnDevice takes; a backend that quantizes none keeps
  // the default.
  virtual bool QuantizesOnDevice(const WeightFormat& format) const { return false; }
  // `transform`: the weight quantized is the dense one transformed (AWQ).
  virtual absl::StatusOr<std::vector<std::unique_ptr<Linear>>> QuantizeLinearParts(
      std::string_view name, LinearRole role, std::span<const std::unique_ptr<Linear>> dense,
      const WeightFormat& format, const AwqTransform& transform = {}) {
    return absl::UnimplementedError(std::string(name) + ": this backend does not quantize on its device");
  }

  // Calibration on the backend's device. CreateHessianSum: a sum for
  // inputs of `in` columns (the default downloads each input and sums on the
  // host). Gptq: quant/gptq.h GptqQuantize with its arguments and errors;
  // a device's twin may round differently where the reference runs in
  // double (its comment says how), and falls back to the host for what it
  // does not cover.
  virtual absl::StatusOr<std::unique_ptr<HessianSum>> CreateHessianSum(int64_t in);
  virtual absl::StatusOr<GptqResult> Gptq(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                          std::span<const float> hessian, const GptqOptions& options,
                                          std::string_view name) {
    return GptqQuantize(f, w, out, in, hessian, options, name);
  }

  // AWQ and SmoothQuant statistics where the inputs are (the default
  // downloads each input and sums on the host), and the scale search's
  // objective Σ (a − b)² over two activations of one shape, in double.
  virtual absl::StatusOr<std::unique_ptr<ColumnAbsStats>> CreateColumnAbsStats(int64_t in);
  virtual double SquaredError(const Act& a, const Act& b);
  // AWQ's searches on the device, for the formats AwqOnDevice takes, on
  // dense bf16 layers this backend made (one, or column parts as
  // QuantizeLinearParts takes them), each the twin of its host function:
  // AwqCandidate, a dense layer of QuantizeScaledForSearch(f, W, s);
  // AwqClipSearch, AwqClip's kept max |w| per (row, group) of W·s on the
  // sample inputs `x` ([rows, in] on the device, before their division by
  // s), W left as it is. Sums run in another order than the host's, so a
  // choice can differ from the host's where two candidates' errors agree to
  // rounding.
  virtual bool AwqOnDevice(const WeightFormat& f) const { return false; }
  virtual absl::StatusOr<std::unique_ptr<Linear>> AwqCandidate(std::string_view name, const Linear& dense,
                                                               const WeightFormat& f, std::span<const float> s) {
    return absl::UnimplementedError(std::string(name) + ": this backend runs AWQ on the host");
  }
  virtual absl::StatusOr<std::vector<float>> AwqClipSearch(std::string_view name,
                                                           std::span<const std::unique_ptr<Linear>> dense,
                                                           const WeightFormat& f, std::span<const float> s,
                                                           const Act& x, int n_grid, double max_shrink) {
    return absl::UnimplementedError(std::string(name) + ": this backend runs AWQ on the host");
  }

  // Time per stage (for `qsweep bench`): while enabled, the backend times
  // each operation by its stage; StageMillis waits for the device and
  // returns (stage, milliseconds) summed since the last call, in a fixed
  // stage order. Backends without timers return nothing.
  // Whether every row's result must be independent of the batch it comes in
  // (on by default: scoring needs it). Off, a backend may pick a kernel per
  // row count, as decode-sized products want (the GPU's low-bit kernels).
  virtual void SetBatchInvariant(bool on) {}
  // Device bytes of the weights uploaded so far, packed layers at their
  // packed size (-1: the backend does not count them).
  virtual int64_t WeightBytes() const { return -1; }
  // Device memory in use now, this process's and any other's (-1: not
  // counted).
  virtual int64_t DeviceBytesInUse() const { return -1; }
  virtual void EnableStageTimes(bool on) {}
  virtual std::vector<std::pair<std::string, double>> StageMillis() { return {}; }
  // Sets the rows and their layout for the next forward (host → device once).
  virtual void SetLayout(const SequenceLayout& layout) = 0;
  // Runs `ops`, device work only (no transfers, no waits): where the backend
  // can, it records them the first time for `key` and replays the recording
  // on later calls with that key (the decoder's layers of a decode step,
  // hundreds of small launches, become one). The backend adds to `key` what
  // else a recording depends on (the layout's shape, its kernel choices,
  // where its buffers are). ForgetRecorded drops every recording, before the
  // buffers and weights they name go away.
  virtual void RunRecorded(uint64_t key, const std::function<void()>& ops) { ops(); }
  virtual void ForgetRecorded() {}

  // out[r] = table[ids[r]] (table [V, D])
  virtual void Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids,
                     Act& out) = 0;
  // out = x / rms(x) * w
  virtual void RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) = 0;
  virtual void Matmul(const Linear& l, const Act& x, Act& y) = 0;  // y = x·Wᵀ
  // ys[i] = x·W_iᵀ for layers that read one input (q, k and v; gate and
  // up): each what Matmul computes, with work shared where a backend can
  // (an activation-quantized input need be quantized only once).
  virtual void MatmulSameInput(std::span<const Linear* const> ls, const Act& x, std::span<Act* const> ys) {
    for (size_t i = 0; i < ls.size(); ++i) Matmul(*ls[i], x, *ys[i]);
  }
  // Whether Matmul of `rows` rows computes with the layer's weights as the
  // CPU reference does, its PackedLinear's fp32 dequantized values, rather
  // than their bf16 rounding (a GPU's expanded packed layers): what a check
  // of a product against a reference must use.
  virtual bool MatmulKeepsFp32Weights(const Linear& l, int64_t rows) const { return true; }
  virtual void AddBias(const DeviceArray& b, Act& y) = 0;
  virtual void Add(const Act& x, Act& y) = 0;  // y += x
  // parts[0] = the sum of all parts, added in the fixed binary tree
  // parts[i] += parts[i + stride] for stride 1, 2, 4, ...: the order the
  // decoder's canonical parts are added in (model/decoder.h). Backends may
  // fuse it; the additions and their order stay these.
  virtual void SumTree(std::span<Act> parts) {
    for (size_t stride = 1; stride < parts.size(); stride *= 2)
      for (size_t i = 0; i + stride < parts.size(); i += 2 * stride) Add(parts[i + stride], parts[i]);
  }
  // Rotates each head (HF rotate_half convention) by the layout's positions;
  // inv_freq has head_dim / 2 entries.
  virtual void Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) = 0;
  // Attention over each row's keys of the layout, GQA: q [rows, Hq*hd],
  // k/v [rows, Hkv*hd] → out [rows, Hq*hd], scale 1/sqrt(hd).
  virtual void Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) = 0;
  // cache[layout.cache_row[r]] = x[r] for every row whose cache row is not
  // -1 (keys after rotary, and values, of one layer).
  virtual void WriteCache(const Act& x, Act& cache) = 0;
  // Attention as above over cache rows [cache_begin[r], cache_row[r]] of
  // k_cache/v_cache ([cache rows, Hkv*hd]) instead of the batch's keys.
  virtual void CachedAttention(const Act& q, const Act& k_cache, const Act& v_cache, int64_t head_dim,
                               Act& out) = 0;
  virtual void SwiGlu(const Act& gate, const Act& up, Act& out) = 0;  // silu(gate) * up
  virtual void GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) = 0;
  // out = x[:, begin : begin + out.cols]
  virtual void SliceColumns(const Act& x, int64_t begin, Act& out) = 0;
  // Statistics of columns [col_begin, col_end) of the logits (one row per
  // target); column col_begin is vocabulary id vocab_begin.
  virtual void LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end,
                               std::span<const int32_t> targets, int k, bool full_rows,
                               int64_t vocab_begin, LogitStats* out) = 0;
  // The pair part of `out` (LogitStats' base_* and cand_* arrays) for
  // columns [col_begin, col_end) of a baseline's logits `base` and this
  // model's `cand` (both [rows, cols] fp32, one row per target); column
  // col_begin is vocabulary id vocab_begin. ref::PairLogitStatistics is the
  // specification.
  virtual void PairLogitStatistics(const Act& base, const Act& cand, int64_t col_begin, int64_t col_end,
                                   std::span<const int32_t> targets, int64_t vocab_begin, LogitStats* out) = 0;
  // Sum over the tensor-parallel group (no-op when tp == 1). Backends that
  // promise bit-identical results for every tp sum in a fixed tree order.
  virtual void AllReduceSum(Act& x) = 0;

  // The row multiple each packed sequence must start on for the backend's
  // results per row not to depend on what else the batch holds
  // (TokenBatch::align).
  virtual int64_t SequenceAlignment() const { return 1; }

  // Whether RowParallelAdd reads its slices of `in` in place (then the
  // decoder allocates no `ins`).
  virtual bool ReadsSlicesInPlace() const { return false; }

  // A row-parallel layer added to the residual stream: residual += the
  // all-reduced tree sum (SumTree's order) of this rank's parts' products
  // in[:, p·w : (p+1)·w]·W_pᵀ. The products are held as `outs` are (the
  // compute precision); the sums and the residual are fp32. `ins` (the
  // parts' input width) and `outs` (the output width) are scratch; the
  // decoder allocates the outs as one buffer at a fixed stride, which lets a
  // backend run the parts as one strided batched GEMM reading its slices of
  // `in` in place. Backends may fuse; the products, the additions and their
  // order stay these.
  // A single part (DecoderOptions::tp_invariant off) is the whole of `in`
  // and needs no `ins`: residual += the all-reduced in·Wᵀ. A backend may then
  // skip the product's rounding to `outs`' precision where no other tp can
  // see the difference (the GPU at tp 1 adds the fp32 GEMM result).
  virtual void RowParallelAdd(std::span<const std::unique_ptr<Linear>> parts, const Act& in,
                              std::span<Act> ins, std::span<Act> outs, Act& residual) {
    const int64_t width = parts[0]->in_features();
    if (parts.size() == 1) {
      Matmul(*parts[0], in, outs[0]);
    } else {
      for (size_t p = 0; p < parts.size(); ++p) {
        SliceColumns(in, static_cast<int64_t>(p) * width, ins[p]);
        Matmul(*parts[p], ins[p], outs[p]);
      }
    }
    SumTree(outs.first(parts.size()));
    AllReduceSum(outs[0]);
    Add(outs[0], residual);
  }
};

// The host's sum: each input downloaded and added in double.
class HostHessianSum : public HessianSum {
 public:
  HostHessianSum(Backend& backend, int64_t in) : backend_(backend), acc_(in) {}
  void Add(const Act& x) override {
    const std::vector<float> v = backend_.Download(x);
    acc_.Add(v.data(), x.rows);
  }
  int64_t tokens() const override { return acc_.tokens(); }
  std::vector<float> Hessian() override { return acc_.Hessian(); }

 private:
  Backend& backend_;
  HessianAccumulator acc_;
};

inline absl::StatusOr<std::unique_ptr<HessianSum>> Backend::CreateHessianSum(int64_t in) {
  return std::make_unique<HostHessianSum>(*this, in);
}

// The host's statistics: each input downloaded.
class HostColumnAbsStats : public ColumnAbsStats {
 public:
  HostColumnAbsStats(Backend& backend, int64_t in) : backend_(backend), mean_(in), max_(in) {}
  void Add(const Act& x) override {
    const std::vector<float> v = backend_.Download(x);
    mean_.Add(v.data(), x.rows);
    max_.Add(v.data(), x.rows);
  }
  std::vector<float> MeanAbs() override { return mean_.values(); }
  std::vector<float> AbsMax() override { return max_.values(); }

 private:
  Backend& backend_;
  ActMeanAbs mean_;
  ActAbsMax max_;
};

inline absl::StatusOr<std::unique_ptr<ColumnAbsStats>> Backend::CreateColumnAbsStats(int64_t in) {
  return std::make_unique<HostColumnAbsStats>(*this, in);
}

inline double Backend::SquaredError(const Act& a, const Act& b) {
  const std::vector<float> x = Download(a), y = Download(b);
  double err = 0;
  for (size_t j = 0; j < x.size(); ++j) err += std::pow(double(x[j]) - y[j], 2);
  return err;
}

}  // namespace qsweep
