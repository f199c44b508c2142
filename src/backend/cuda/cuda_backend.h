// The GPU backend: linear layers through cuBLASLt with fp32 accumulation,
// the decoder's other stages as the kernels of kernels/. It computes a bf16
// model in bf16 (activations and weights) and fp32 and fp16 models in fp32
// (bf16 cannot hold fp16's values). A bf16 model's weight-only quantized
// layers stay packed in device memory (kernels/lowbit): products of up to
// 64 rows run the low-bit kernel when batch invariance is off; every other
// product expands the layer's weights to bf16 in a shared buffer and runs
// the cuBLASLt GEMM of the shape, so a quantized layer's scores equal those
// of its dequantized bf16 weights bit for bit. Attention runs at that precision:
// bf16 tensor cores with fp32 softmax for bf16 (kernels/attention_wgmma.cuh),
// fp32 otherwise. Tensor parallelism: the all-reduce of row-parallel layers is
// an NCCL all-gather followed by a sum over ranks in the fixed tree order of
// the CPU backend, so that a tp group adds the decoder's canonical parts
// exactly as one GPU does.
//
// Device memory a user can exhaust (weights, activations, the reserved
// per-forward scratch) is asked for through TryMalloc, whose failure is a
// Status naming the buffer and the bytes; other CUDA failures are broken
// invariants and abort with file and line.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "backend/backend.h"
#include "backend/cuda/act_quant_gemm.h"
#include "backend/cuda/cuda_calibration.h"
#include "backend/cuda/nccl_group.h"
#include "backend/cuda/staged_upload.h"
#include "query_blocks.h"

namespace qsweep {

class CudaBackend : public Backend {
 public:
  // Takes GPU `local_rank % visible GPUs` (one visible GPU per rank when the
  // launcher binds them; several when plain mpirun starts the ranks).
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int local_rank = 0);
  ~CudaBackend() override;
  int device() const { return device_; }
  // The tensor-parallel group AllReduceSum sums over (none: tp 1).
  void SetGroup(std::unique_ptr<NcclGroup> group) { group_ = std::move(group); }

  std::string name() const override { return "cuda"; }
  std::string DeviceName() const override;  // e.g. "NVIDIA H200"
  void SetModelPrecision(DType precision) override;
  DType compute_type() const override { return compute_; }
  int64_t FreeMemoryBytes() const override;
  absl::StatusOr<Act> Alloc(int64_t rows, int64_t cols, ActRole role = ActRole::kAccumulate,
                            std::string_view what = "activations") override;
  // A buffer of the given element type (fp32 or bf16), whatever the model.
  absl::StatusOr<Act> AllocAs(int64_t rows, int64_t cols, DType dtype, std::string_view what = "a buffer");
  int64_t ScratchBytesPerToken(const TokenWidths& widths) const override;
  absl::Status ReserveScratch(int64_t tokens, int64_t head_rows, const TokenWidths& widths) override;
  void Free(Act& a) override;
  absl::StatusOr<std::unique_ptr<DeviceArray>> Upload(std::span<const float> values) override;
  // bf16 for a bf16 model whose table bf16 holds exactly (half the bytes).
  absl::StatusOr<std::unique_ptr<DeviceArray>> UploadEmbedding(std::span<const float> values) override;
  std::vector<float> Download(const Act& a) override;
  void UploadTo(std::span<const float> values, Act& a) override;
  void UploadBf16(std::span<const uint16_t> bits, Act& a) override;
  void Synchronize() override;
  absl::StatusOr<std::unique_ptr<Linear>> CreateLinear(std::string_view name, LinearRole role,
                                                       std::unique_ptr<PackedLinear> w) override;
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateLinearParts(
      std::string_view name, std::vector<std::unique_ptr<PackedLinear>> parts) override;
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateDenseBf16(std::string_view name, LinearRole role,
                                                                       int64_t count, int64_t out, int64_t width,
                                                                       const Bf16Rows& rows) override;
  std::unique_ptr<Linear> ShareLinear(const Linear& l, bool counted) override;
  // What a packed layer holds on the device, read back (tests compare it
  // with quant/mma_tiled_weights.h TileForMma); nullopt for other layers.
  struct TiledArrays {
    std::vector<uint32_t> codes;
    std::vector<uint16_t> scales;
    std::vector<uint8_t> zeros;
  };
  std::optional<TiledArrays> DownloadTiled(const Linear& l);
  // Formats of the low-bit family, for a bf16 model.
  bool QuantizesOnDevice(const WeightFormat& format) const override;
  absl::StatusOr<std::unique_ptr<HessianSum>> CreateHessianSum(int64_t in) override;
  absl::StatusOr<std::unique_ptr<ColumnAbsStats>> CreateColumnAbsStats(int64_t in) override;
  double SquaredError(const Act& a, const Act& b) override;
  // AWQ's searches for the integer formats of groups of at most 128
  // (kernels/awq.cuh, kernels/lowbit/lowbit_quantize.cuh).
  bool AwqOnDevice(const WeightFormat& f) const override;
  absl::StatusOr<std::unique_ptr<Linear>> AwqCandidate(std::string_view name, const Linear& dense,
                                                       const WeightFormat& f, std::span<const float> s) override;
  absl::StatusOr<std::vector<float>> AwqClipSearch(std::string_view name,
                                                   std::span<const std::unique_ptr<Linear>> dense,
                                                   const WeightFormat& f, std::span<const float> s, const Act& x,
                                                   int n_grid, double max_shrink) override;
  absl::StatusOr<GptqResult> Gptq(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                  std::span<const float> hessian, const GptqOptions& options,
                                  std::string_view name) override;
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> QuantizeLinearParts(
      std::string_view name, LinearRole role, std::span<const std::unique_ptr<Linear>> dense,
      const WeightFormat& format, const AwqTransform& transform = {}) override;
  void EnableStageTimes(bool on) override { timing_ = on; }
  void SetBatchInvariant(bool on) override { batch_invariant_ = on; }
  void RunRecorded(uint64_t key, const std::function<void()>& ops) override;
  void ForgetRecorded() override;
  // Off: RunRecorded runs its operations every time (the tests compare both).
  void EnableRecording(bool on) { recording_ = on; }
  int64_t WeightBytes() const override { return *weight_bytes_; }
  int64_t DeviceBytesInUse() const override;
  std::vector<std::pair<std::string, double>> StageMillis() override;

  void SetLayout(const SequenceLayout& layout) override;
  void Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids, Act& out) override;
  void RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) override;
  void Matmul(const Linear& l, const Act& x, Act& y) override;
  bool MatmulKeepsFp32Weights(const Linear& l, int64_t rows) const override;
  void AddBias(const DeviceArray& b, Act& y) override;
  void Add(const Act& x, Act& y) override;
  void SumTree(std::span<Act> parts) override;
  void Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) override;
  void Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) override;
  void WriteCache(const Act& x, Act& cache) override;
  void CachedAttention(const Act& q, const Act& k_cache, const Act& v_cache, int64_t head_dim, Act& out) override;
  void SwiGlu(const Act& gate, const Act& up, Act& out) override;
  void GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) override;
  void SliceColumns(const Act& x, int64_t begin, Act& out) override;
  void LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end, std::span<const int32_t> targets, int k,
                       bool full_rows, int64_t vocab_begin, LogitStats* out) override;
  void PairLogitStatistics(const Act& base, const Act& cand, int64_t col_begin, int64_t col_end,
                           std::span<const int32_t> targets, int64_t vocab_begin, LogitStats* out) override;
  void AllReduceSum(Act& x) override;
  bool ReadsSlicesInPlace() const override { return true; }
  // The wgmma attention tiles keys from a sequence's first row in 8-row
  // steps: sequences that start on 8 rows keep every row's result
  // independent of the batch.
  int64_t SequenceAlignment() const override { return 8; }
  void RowParallelAdd(std::span<const std::unique_ptr<Linear>> parts, const Act& in, std::span<Act> ins,
                      std::span<Act> outs, Act& residual) override;

  // The current layout's seq_begin, prefix_end, branch_begin on the device.
  std::tuple<const int64_t*, const int64_t*, const int64_t*> LayoutOnDevice() const;
  // The current layout's query blocks (kernels/query_blocks.h) on the device.
  const kernels::QueryBlocks& QueryBlocksOnDevice() const { return query_blocks_; }

 private:
  CudaBackend() = default;

  // A grow-only device buffer for per-forward inputs and intermediates.
  struct Scratch {
    const char* what;
    void* data = nullptr;
    size_t bytes = 0;
  };
  // `s` with room for `bytes`: grown (cudaMalloc) where ReserveScratch did
  // not size it; out of memory is then an error.
  absl::Status Grow(Scratch& s, size_t bytes);
  // The same inside an operation, where the memory plan reserved it: a
  // failure there is a bug of the plan, and aborts.
  void* Need(Scratch& s, size_t bytes);
  absl::Status TryMalloc(void** p, size_t bytes, std::string_view what) const;
  // The logit statistics' targets in targets_: uploaded only when they
  // differ from the last ones (the decoder asks for every vocabulary chunk
  // of a head chunk with the same targets).
  const int32_t* DeviceTargets(std::span<const int32_t> targets);
  // `words` 4-byte words of logit statistics at `device` copied into
  // host_stats_ (pinned, grown as needed), which it returns.
  const float* StatsToHost(const void* device, int64_t words);
  // The parts' weights at the compute precision, one after another in one
  // allocation (CreateLinear: a single part).
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> UploadParts(std::string_view name, LinearRole role,
                                                                   std::vector<std::unique_ptr<PackedLinear>> parts);
  // `count` dense layers [out, width] at the compute precision, one after
  // another in one counted allocation, their values not yet written.
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> AllocateDense(std::string_view name, LinearRole role,
                                                                     int64_t count, int64_t out, int64_t width);

  // A packed layer's bf16 weights in dequantized_ at `slot` (slots of the
  // layer's size), or a dense layer's own.
  const void* DenseWeights(const Linear& l, int64_t slot);
  // y = x·Wᵀ through the low-bit kernel where it applies (packed weights,
  // batch invariance off, few rows, aligned operands); false: not run.
  bool LowbitProduct(const Linear& l, const void* x, int64_t rows, int64_t ldx, void* y, int64_t ldy, DType ytype,
                     bool accumulate);
  // Whether a product of `rows` rows with l takes the low-bit kernel (before
  // the operands' alignment, which Alloc's activations meet).
  bool TakesLowbitGemm(const Linear& l, int64_t rows) const;
  absl::StatusOr<std::unique_ptr<Linear>> UploadPacked(std::string_view name, LinearRole role, const PackedLinear& w);
  struct PackedStorage;
  absl::StatusOr<PackedStorage> AllocatePacked(std::string_view name, const WeightFormat& f, int64_t out, int64_t in);
  absl::Status ReservePackedScratch(std::span<const std::unique_ptr<Linear>> parts);
  // An activation-quantized layer (act_quant_gemm.h): its codes and scales.
  absl::StatusOr<std::unique_ptr<Linear>> UploadActQuant(std::string_view name, LinearRole role,
                                                         const PackedLinear& w);
  // y = quantize(x)·Wᵀ for an activation-quantized layer; false: not one.
  bool ActQuantProduct(const Linear& l, const void* x, int64_t rows, int64_t ldx, void* y, int64_t ldy, DType ytype,
                       bool accumulate);
  int64_t ActQuantBytesPerToken(const TokenWidths& w) const;

  struct GemmPlan;
  // C[m, n] (column-major) = Wᵀ·X for W [m, k] row-major and X with row
  // stride ldb; `batch` products at element strides a, b, c.
  struct GemmShape {
    int64_t m, n, k, ldb;
    bool ab_bf16, c_bf16;
    int32_t batch = 1;
    int64_t stride_a = 0, stride_b = 0, stride_c = 0;
    uint32_t align_a = 256, align_b = 256, align_c = 256;  // bytes every address of the operand is a multiple of
    bool per_rows = false;  // the heuristic's choice for this row count (batch invariance off)
    auto operator<=>(const GemmShape&) const = default;
  };
  GemmPlan& Plan(const GemmShape& shape);
  void DescribeGemm(const GemmShape& shape, GemmPlan* plan);
  // The algorithm every row count of the shape runs (batch invariance), or
  // with per_rows the fastest for the row count.
  const cublasLtMatmulAlgo_t& AlgoFor(const GemmShape& shape);
  // d = a·b (+ c when beta is 1) with the shape's cached plan.
  // (The plan also records the operands' alignment, which Gemm fills in.)
  void Gemm(GemmShape shape, const void* a, const void* b, const void* c, void* d, float beta);

  enum class Stage { kGemm, kHead, kAttention, kNorm, kElementwise, kLogitStats, kAllReduce, kCount };
  static const char* StageName(Stage s);
  class StageScope;
  struct StageEvents {
    Stage stage;
    cudaEvent_t begin, end;
  };
  cudaEvent_t Event();

  int device_ = 0;
  DType compute_ = DType::kF32;
  std::unique_ptr<NcclGroup> group_;
  bool timing_ = false;
  std::vector<StageEvents> stage_events_;
  std::vector<cudaEvent_t> free_events_;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 32 << 20;
  std::map<GemmShape, std::unique_ptr<GemmPlan>> plans_;
  std::map<GemmShape, std::unique_ptr<cublasLtMatmulAlgo_t>> algos_;  // keyed without the row count
  int64_t layout_rows_ = 0;
  bool cache_rows_set_ = false, cache_reads_set_ = false;  // the layout's KV cache rows are on the device
  int64_t cache_max_keys_ = 0;  // the most cache rows a row of the layout attends to
  bool batch_invariant_ = true;
  // One stream for every operation: a blocking one, so the synchronous
  // copies of the legacy default stream still order with it, and one that
  // CUDA graphs can capture (the legacy stream cannot be captured).
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<StagedUpload> staged_;  // CreateDenseBf16's pinned buffers, made on first use
  // CUDA graphs of RunRecorded, by the caller's key and what the recording
  // depends on beyond it. scratch_generation_ counts reallocated scratch
  // buffers: a recording names their old addresses.
  struct GraphKey {
    uint64_t key;
    int64_t cache_splits, rows;
    bool batch_invariant;
    uint64_t scratch_generation;
    auto operator<=>(const GraphKey&) const = default;
  };
  std::map<GraphKey, cudaGraphExec_t> graphs_;
  bool recording_ = true;
  uint64_t scratch_generation_ = 0;
  TokenWidths widths_;  // ReserveScratch's, for the decode attention's splits
  int sms_ = 0;
  // Bytes of the weights alive now: each allocation's deleter takes its
  // share back (layers may outlive the backend, hence shared).
  std::shared_ptr<std::atomic<int64_t>> weight_bytes_ = std::make_shared<std::atomic<int64_t>>(0);

  // Per-forward scratch, one buffer each.
  Scratch positions_{"rotary positions"}, seq_begin_{"layout"}, prefix_end_{"layout"}, branch_begin_{"layout"};
  Scratch cache_row_{"KV cache rows"}, cache_begin_{"KV cache rows"};
  Scratch attention_partial_{"the decode attention's splits"};
  Scratch token_ids_{"token ids"}, head_rows_{"head row indices"}, targets_{"targets"};
  Scratch stats_{"logit statistics"}, all_gather_{"the all-gather"}, rank_sum_{"a rank's tree sum"};
  Scratch v_transposed_{"V transposed for attention"}, query_block_tables_{"attention query blocks"};
  Scratch dequantized_{"a packed layer's dequantized weights"}, lowbit_workspace_{"the low-bit GEMM's partial sums"};
  Scratch act_codes_{"quantized activations"}, act_scales_{"activation scales"};
  Scratch act_acc_{"an integer product before scaling"}, act_unpacked_{"4-bit weights unpacked to int8"};
  std::unique_ptr<ActQuantGemm> act_gemm_;
  std::unique_ptr<CudaCalibration> calibration_;  // made by the first calibration call
  absl::StatusOr<CudaCalibration*> Calibration();
  bool act_quant_layers_ = false;  // whether any layer quantizes its activations (the scratch above)
  kernels::QueryBlocks query_blocks_;  // views of query_block_tables_
  std::vector<int32_t> uploaded_targets_;  // what targets_ holds
  float* host_stats_ = nullptr;            // logit statistics copied back (pinned)
  int64_t host_stats_words_ = 0;
};

}  // namespace qsweep
