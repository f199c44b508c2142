// The Llama-family decoder, written once against the Backend interface.
// With tensor parallelism (tp > 1) each rank holds its slice: q/k/v and
// gate/up column-parallel (by heads / by intermediate rows), o and down
// row-parallel followed by an all-reduce, and the head vocab-parallel, so the
// log-softmax is reduced across ranks from per-slice statistics only.
//
// Results are bit-identical for every tp that divides kCanonicalParts: each
// row-parallel matmul is split into a fixed number of input-column parts,
// whose outputs are summed in a fixed binary tree (a rank owns a whole
// subtree, and the backend's all-reduce completes the tree across ranks in
// rank order); the vocabulary is cut into fixed chunks whose log-softmax
// statistics are combined in vocabulary order. Which rank computes a part
// never changes how it is computed.
//
// That has a price on a GPU: eight products per row-parallel layer written
// and summed instead of one GEMM accumulating into the residual. A run that
// needs no tp-independence (every scheme of a sweep at one tp, or a speed
// measurement) can set DecoderOptions::tp_invariant = false: each rank then
// holds its row-parallel columns as one part, and results depend on tp within
// rounding (still repeatable for a given tp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "model/calibration.h"
#include "model/checkpoint.h"
#include "model/held_weights.h"
#include "model/row_scores.h"
#include "model/token_batch.h"
#include "quant/scheme.h"

namespace qsweep {

inline constexpr int kCanonicalParts = 8;

// How many column parts a row-parallel matmul over `in_features` is cut
// into: the largest power of two <= kCanonicalParts that divides it.
int64_t RowParallelParts(int64_t in_features);

struct DecoderOptions {
  SchemeSpec scheme = Fp32Scheme();  // resolved once, by whoever names it
  int tp_rank = 0;
  int tp_size = 1;
  // false: one part per rank for row-parallel layers (see above).
  bool tp_invariant = true;
  // Activation buffers are sized for this, once. 0: as many tokens as fit in
  // the backend's free memory once the weights are loaded (4096 where the
  // backend reports none), agreed across ranks by `agree_batch_tokens`.
  int64_t max_batch_tokens = 4096;
  int64_t max_head_rows = 512;      // rows of logits computed at a time
  // Rows of the KV cache per layer (generation: sequences x their longest
  // length), held at the compute precision; 0: none. Batches address it
  // through SequenceLayout::cache_row / cache_begin.
  int64_t cache_rows = 0;
  // Every rank of a job must use one batch size: maps this rank's choice to
  // the job's (the minimum over ranks). Unset: this rank's choice.
  std::function<int64_t(int64_t)> agree_batch_tokens = nullptr;
  // A calibrated scheme (GPTQ) quantizes on these sequences as it loads
  // (Calibrate); unset, such a scheme's first projection fails to quantize.
  const CalibrationSet* calibration = nullptr;
  // Progress lines of the calibration (one per layer); unset: silent.
  std::function<void(const std::string&)> progress = nullptr;
  // Set when forwards compare with a baseline's final hidden states
  // (RowPairing::base_hidden): the baseline's scheme, whose head recomputes
  // the baseline's logits (this model's own head where the formats agree, a
  // second head otherwise). Reserves the rows and logits that takes.
  std::optional<SchemeSpec> pair_baseline = std::nullopt;
  // The baseline's checkpoint where it is not the one this decoder loads (a
  // quantized checkpoint made elsewhere): its head is then always loaded
  // from there.
  const Checkpoint* pair_baseline_checkpoint = nullptr;
  // Projections the checkpoint stores in one of qsweep's packed formats
  // (Checkpoint::ReadStoredRows) run in that format; `scheme` holds the
  // rest. For quantized checkpoints made elsewhere.
  bool stored_formats = false;
  // The model's dense weights kept on the backend's device across a sweep's
  // schemes (held_weights.h): projections of round-to-nearest formats the
  // backend quantizes (Backend::QuantizesOnDevice) are made from them, and
  // an empty store is filled as this decoder loads. Unset, those
  // projections are still quantized on the device, each from a temporary
  // dense copy, so that only the quantized model stays resident.
  HeldWeights* held = nullptr;
  // Quantize every projection on the host, as read (tests and benchmarks
  // compare the two ways).
  bool host_quantize = false;
  // Lines of the load's progress (layers done, rate, ETA) on stderr, every
  // 10 s of a long load: rank 0 of a sweep.
  bool load_progress = false;
};

class Decoder {
 public:
  static absl::StatusOr<std::unique_ptr<Decoder>> Load(const Checkpoint& checkpoint,
                                                       Backend* backend, DecoderOptions options);
  ~Decoder();

  const ModelConfig& config() const { return config_; }
  const DecoderOptions& options() const { return options_; }
  Backend* backend() const { return backend_; }
  int64_t vocab_begin() const { return vocab_begin_; }
  // What the activations take and why the batch is that size (one line).
  const std::string& memory_plan() const { return memory_plan_; }
  int64_t vocab_end() const { return vocab_end_; }
  // What calibrating the scheme chose (empty for uncalibrated schemes).
  const CalibrationReport& calibration_report() const { return calibration_report_; }
  // Projections loaded in their stored packed format (stored_formats), of
  // all projections.
  int64_t stored_projections() const { return stored_projections_; }
  int64_t projections() const { return projections_; }

  // Runs the batch and returns, for the given rows (indices into the batch)
  // each scored against its target token, the logit statistics of this
  // rank's vocabulary chunks, in vocabulary order.
  // `pairing`: keep the rows' final hidden states in `hidden` ([rows,
  // hidden], appended), or compare with a baseline's (the chunks then hold
  // the pair arrays; needs options().pair_baseline).
  // A batch whose layout writes the KV cache (SequenceLayout::cache_row)
  // also stores its keys and values there; one that reads it (cache_begin)
  // attends over the cache instead of the batch: a decode step.
  absl::Status Forward(const TokenBatch& batch, std::span<const int64_t> rows,
                       std::span<const int32_t> targets, int topk, bool full_rows,
                       std::vector<LogitStats>* chunks, const RowPairing& pairing = {},
                       std::vector<float>* hidden = nullptr);

 private:
  struct Layer;
  Decoder(const ModelConfig& config, Backend* backend, DecoderOptions options);
  absl::Status LoadWeights(const Checkpoint& checkpoint);
  // `free_before`: the backend's free memory before the weights (-1: none).
  absl::Status PlanBatchTokens(int64_t free_before);
  // Every activation buffer sized per batch token and its columns (the part
  // vectors are sized here): what AllocateBuffers allocates and what the
  // memory plan counts.
  struct TokenBuffer {
    Act* act;
    int64_t cols;
    ActRole role;
  };
  std::vector<TokenBuffer> TokenBuffers();
  TokenWidths Widths() const;
  int64_t ActivationBytesPerToken();
  absl::Status AllocateBuffers();
  // A layout's KV cache rows within the cache, and reads only with writes.
  absl::Status CheckCacheLayout(const SequenceLayout& layout) const;
  // The inputs of a layer's linears, as RunLayer computes them: the normed
  // hidden state (q k v), the attention output (o), the normed hidden state
  // (gate up), the SwiGLU output (down). A tap sees each as it is made.
  enum class LinearInput { kAttention, kAttentionOutput, kMlp, kMlpHidden };
  using LinearInputTap = std::function<void(LinearInput, const Act&)>;
  // How much of a layer RunLayer runs: all of it; up to the attention
  // output (o not applied); up to the SwiGLU output (down not applied); or
  // the MLP half alone from x_ as the attention half leaves it, up to the
  // SwiGLU output. Calibration's searches run only what their objective
  // needs.
  enum class LayerSpan { kWhole, kToAttentionOutput, kToMlpHidden, kMlpToHidden };
  // `cache`: the layer's KV cache (its index), when the layout uses one.
  void RunLayer(const Layer& layer, const LinearInputTap* tap = nullptr, int64_t cache = -1,
                LayerSpan span = LayerSpan::kWhole);
  // True-sequential quantization (model/decoder_calibration.cc): layer by
  // layer, each stage of projections quantized from the Hessian of inputs
  // computed through the projections already quantized.
  absl::Status Calibrate(const Checkpoint& checkpoint);
  // x_ += in · Wᵀ for a row-parallel weight held as parts (Backend::RowParallelAdd).
  void RowParallelAdd(const std::vector<std::unique_ptr<Linear>>& parts, const Act& in, std::vector<Act>& part_inputs);

  ModelConfig config_;
  Backend* backend_;
  DecoderOptions options_;
  int64_t local_heads_, local_kv_heads_, local_intermediate_;
  // Parts of the row-parallel layers over all ranks: canonical, or one per rank.
  int64_t o_parts_ = 1, down_parts_ = 1;
  int64_t vocab_begin_ = 0, vocab_end_ = 0;
  std::unique_ptr<DeviceArray> embedding_, final_norm_, inv_freq_;
  std::unique_ptr<Linear> head_;
  std::unique_ptr<Linear> base_head_;  // the baseline's, where its format is not head_'s
  std::vector<Layer> layers_;
  std::string memory_plan_;
  CalibrationReport calibration_report_;
  int64_t stored_projections_ = 0, projections_ = 0;
  int vocab_chunks_ = 1;  // this rank's share of kCanonicalParts vocabulary chunks
  Act x_, h_, q_, k_, v_, attn_, gate_, up_, sel_, sel_norm_, logits_;
  Act base_norm_, base_logits_;  // a baseline's rows and logits (pair_baseline)
  std::vector<Act> k_cache_, v_cache_;  // per layer [cache_rows, this rank's kv columns]
  bool reads_cache_ = false;            // the forward running attends over the cache
  std::vector<Act> part_in_o_, part_in_down_;
  // The parts' outputs: one allocation [parts x batch tokens, hidden] and
  // views of it at a fixed stride (part_out_).
  Act part_out_all_;
  std::vector<Act> part_out_;
};

}  // namespace qsweep
