// A linear layer on the CPU backend: the weights in the scheme's packed
// format, run by the quant room's reference kernels (quant/packed_linear.h).
#pragma once
#include <memory>
#include "backend/backend.h"
#include "quant/packed_linear.h"

namespace qsweep {

class CpuLinear : public Linear {
 public:
  explicit CpuLinear(std::shared_ptr<const PackedLinear> packed) : packed_(std::move(packed)) {}
  int64_t out_features() const override { return packed_->out_features(); }
  int64_t in_features() const override { return packed_->in_features(); }
  // y[rows, out] = x[rows, in] · Wᵀ
  void Forward(const float* x, int64_t rows, float* y) const { packed_->Forward(x, rows, y); }
  const std::shared_ptr<const PackedLinear>& packed() const { return packed_; }

 private:
  std::shared_ptr<const PackedLinear> packed_;
};

}  // namespace qsweep
