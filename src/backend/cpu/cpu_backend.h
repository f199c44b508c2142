// The fp32 reference backend: readable loops (reference_ops.h), a blocked
// GEMM, OpenMP over rows. Tensor parallelism through an optional all-reduce.
#pragma once
#include <functional>
#include <memory>

#include "backend/backend.h"

namespace qsweep {

class CpuBackend : public Backend {
 public:
  // `all_reduce` sums a host buffer over the tensor-parallel group, in a
  // fixed tree order over ranks (see Decoder); empty for tp == 1.
  using AllReduceFn = std::function<void(float* data, int64_t n)>;
  explicit CpuBackend(AllReduceFn all_reduce = nullptr) : all_reduce_(std::move(all_reduce)) {}

  std::string name() const override { return "cpu"; }
  std::string DeviceName() const override { return "host CPU"; }
  absl::StatusOr<Act> Alloc(int64_t rows, int64_t cols, ActRole role = ActRole::kAccumulate,
                            std::string_view what = "activations") override;
  void Free(Act& a) override;
  absl::StatusOr<std::unique_ptr<DeviceArray>> Upload(std::span<const float> values) override;
  std::vector<float> Download(const Act& a) override;
  void UploadTo(std::span<const float> values, Act& a) override;
  absl::StatusOr<std::unique_ptr<Linear>> CreateLinear(std::string_view name, LinearRole role,
                                                       std::unique_ptr<PackedLinear> w) override;
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CreateLinearParts(
      std::string_view name, std::vector<std::unique_ptr<PackedLinear>> parts) override;
  std::unique_ptr<Linear> ShareLinear(const Linear& l, bool counted) override;
  // The reference the GPU's device quantizer is tested against: the dense
  // parts' values, quantized by QuantizeLinear and cut as
  // QuantizeRowParallelParts cuts them (any weight-only format). The CPU
  // keeps QuantizesOnDevice false: quantizing the checkpoint's values as
  // they are read is faster than quantizing a copy of them.
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> QuantizeLinearParts(
      std::string_view name, LinearRole role, std::span<const std::unique_ptr<Linear>> dense,
      const WeightFormat& format, const AwqTransform& transform = {}) override;
  void SetLayout(const SequenceLayout& layout) override { layout_ = layout; }

  void Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids, Act& out) override;
  void RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) override;
  void Matmul(const Linear& l, const Act& x, Act& y) override;
  void AddBias(const DeviceArray& b, Act& y) override;
  void Add(const Act& x, Act& y) override;
  void Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) override;
  void Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) override;
  void WriteCache(const Act& x, Act& cache) override;
  void CachedAttention(const Act& q, const Act& k_cache, const Act& v_cache, int64_t head_dim, Act& out) override;
  void SwiGlu(const Act& gate, const Act& up, Act& out) override;
  void GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) override;
  void SliceColumns(const Act& x, int64_t begin, Act& out) override;
  void LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end,
                       std::span<const int32_t> targets, int k, bool full_rows, int64_t vocab_begin,
                       LogitStats* out) override;
  void PairLogitStatistics(const Act& base, const Act& cand, int64_t col_begin, int64_t col_end,
                           std::span<const int32_t> targets, int64_t vocab_begin, LogitStats* out) override;
  void AllReduceSum(Act& x) override;

 private:
  AllReduceFn all_reduce_;
  SequenceLayout layout_;
};

// The statistics of one row of logits (exposed for tests and the GPU kernel tests).
void RowLogitStatistics(const float* logits, int64_t n, int32_t target_local, int k,
                        int64_t vocab_begin, float* max, float* sum_exp, float* target_logit,
                        int32_t* topk_id, float* topk_logit);

}  // namespace qsweep
