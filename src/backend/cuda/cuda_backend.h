// The GPU backend, first slice: fp32 activations, linear layers in bf16
// (quantized schemes dequantized to bf16 once at load; fp32 for the fp32
// reference scheme) through cuBLASLt with fp32 accumulation, the decoder's
// other stages as the kernels of kernels/. Attention runs at the weights'
// precision: fp32 for the fp32 and fp16 schemes, bf16 tensor cores with fp32
// softmax for models held in bf16 (kernels/attention_bf16.cuh). Tensor
// parallelism: the all-reduce of row-parallel layers is an NCCL all-gather
// followed by a sum over ranks in the fixed tree order of the CPU backend, so
// that a tp group adds the decoder's canonical parts exactly as one GPU does.
#pragma once
#include <map>
#include <vector>
#include <memory>
#include <tuple>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "backend/backend.h"
#include "backend/cuda/nccl_group.h"

namespace qsweep {

class CudaBackend : public Backend {
 public:
  // Takes GPU `local_rank % visible GPUs` (one visible GPU per rank when the
  // launcher binds them; several when plain mpirun starts the ranks).
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int local_rank = 0);
  ~CudaBackend() override;
  int device() const { return device_; }
  std::string DeviceName() const;  // e.g. "NVIDIA H100 80GB HBM3"
  // The tensor-parallel group AllReduceSum sums over (none: tp 1).
  void SetGroup(std::unique_ptr<NcclGroup> group) { group_ = std::move(group); }

  // Time per stage, for `qsweep bench`: while enabled, every operation is
  // bracketed by CUDA events; StageMillis() waits for the GPU and returns
  // the milliseconds summed per stage since the last call.
  enum class Stage { kGemm, kHead, kAttention, kNorm, kElementwise, kLogitStats, kAllReduce, kCount };
  static const char* StageName(Stage s);
  void EnableStageTimes(bool on) { timing_ = on; }
  std::vector<double> StageMillis();

  std::string name() const override { return "cuda"; }
  int64_t FreeMemoryBytes() const override;
  Act Alloc(int64_t rows, int64_t cols, ActRole role = ActRole::kAccumulate) override;
  int ElementBytes(ActRole role) const override;
  // A buffer of the given element type, whatever the model (for tests).
  Act AllocAs(int64_t rows, int64_t cols, bool bf16);
  // Compute activations are bf16 when every live linear layer is bf16.
  bool ComputeBf16() const;
  void Free(Act& a) override;
  std::unique_ptr<DeviceArray> Upload(std::span<const float> values) override;
  absl::StatusOr<std::unique_ptr<Linear>> CreateLinear(const std::string& name, const std::string& scheme,
                                                       std::vector<float> weight, int64_t out, int64_t in) override;
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateLinearParts(
      const std::string& name, const std::string& scheme, std::vector<float> weight, int64_t out, int64_t in,
      int64_t first, int64_t count, int64_t total) override;
  void SetLayout(const SequenceLayout& layout) override;
  void Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids, Act& out) override;
  void RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) override;
  void Matmul(const Linear& l, const Act& x, Act& y) override;
  void AddBias(const DeviceArray& b, Act& y) override;
  void Add(const Act& x, Act& y) override;
  void SumTree(std::span<Act> parts) override;
  void Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) override;
  void Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) override;
  void SwiGlu(const Act& gate, const Act& up, Act& out) override;
  void GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) override;
  void SliceColumns(const Act& x, int64_t begin, Act& out) override;
  void LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end, std::span<const int32_t> targets, int k,
                       bool full_rows, int64_t vocab_begin, LogitStats* out) override;
  void AllReduceSum(Act& x) override;
  bool ReadsSlicesInPlace() const override { return true; }
  void RowParallelAdd(std::span<const std::unique_ptr<Linear>> parts, const Act& in, std::span<Act> ins,
                      std::span<Act> outs, Act& residual) override;

  // Copies for tests.
  std::vector<float> Download(const Act& a) const;
  void UploadTo(std::span<const float> values, Act& a) const;
  void Synchronize() const;
  // The current layout's seq_begin, prefix_end, branch_begin on the device.
  std::tuple<const int64_t*, const int64_t*, const int64_t*> LayoutOnDevice();

 private:
  CudaBackend() = default;
  // A grow-only device buffer for per-forward inputs (ids, rows, layout).
  void* Scratch(int slot, size_t bytes);
  struct GemmPlan;
  // C[m, n] (column-major) = Wᵀ·X for W [m, k] row-major and X with row
  // stride ldb; `batch` products at element strides a, b, c.
  struct GemmShape {
    int64_t m, n, k, ldb;
    bool ab_bf16, c_bf16;
    int32_t batch = 1;
    int64_t stride_a = 0, stride_b = 0, stride_c = 0;
    uint32_t align_a = 256, align_b = 256, align_c = 256;  // bytes every address of the operand is a multiple of
    auto operator<=>(const GemmShape&) const = default;
  };
  GemmPlan& Plan(const GemmShape& shape);
  // d = a·b (+ c when beta is 1) with the shape's cached plan.
  // (The plan also records the operands' alignment, which Gemm fills in.)
  void Gemm(GemmShape shape, const void* a, const void* b, const void* c, void* d, float beta);
  // The matmul input as the weights' type: x itself, or a bf16 copy of fp32 x.
  const void* GemmInput(const Act& x, bool bf16_weights);

  class StageScope;
  struct StageEvents {
    Stage stage;
    cudaEvent_t begin, end;
  };
  cudaEvent_t Event();

  int device_ = 0;
  std::unique_ptr<NcclGroup> group_;
  bool timing_ = false;
  std::vector<StageEvents> stage_events_;
  std::vector<cudaEvent_t> free_events_;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 32 << 20;
  std::map<int, std::pair<void*, size_t>> scratch_;
  std::map<GemmShape, std::unique_ptr<GemmPlan>> plans_;
  int64_t layout_rows_ = 0;
  std::vector<int32_t> uploaded_targets_;  // what scratch slot 8 holds
  float* host_stats_ = nullptr;            // logit statistics copied back (pinned)
  int64_t host_stats_words_ = 0;
  // Live linear layers stored in fp32 [0] and bf16 [1]: a model whose layers
  // are all bf16 computes in bf16 (ComputeBf16).
  int64_t live_linears_[2] = {0, 0};
};

}  // namespace qsweep
