// A linear layer on the CPU backend: the weights in the scheme's packed
// format, run by the quant room's reference kernels (quant/packed_linear.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "quant/packed_linear.h"

namespace qsweep {

class CpuLinear : public Linear {
 public:
  explicit CpuLinear(std::unique_ptr<PackedLinear> packed) : packed_(std::move(packed)) {}
  int64_t out_features() const override { return packed_->out_features(); }
  int64_t in_features() const override { return packed_->in_features(); }
  // y[rows, out] = x[rows, in] · Wᵀ
  void Forward(const float* x, int64_t rows, float* y) const { packed_->Forward(x, rows, y); }

 private:
  std::unique_ptr<PackedLinear> packed_;
};

absl::StatusOr<std::unique_ptr<CpuLinear>> MakeCpuLinear(const std::string& name, const std::string& scheme,
                                                         std::vector<float> weight, int64_t out, int64_t in);
absl::StatusOr<std::vector<std::unique_ptr<Linear>>> MakeCpuLinearParts(
    const std::string& name, const std::string& scheme, std::vector<float> weight, int64_t out, int64_t in,
    int64_t first, int64_t count, int64_t total);

}  // namespace qsweep
