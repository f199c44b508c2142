// A linear layer on the CPU backend: the weights in the scheme's packed
// format with the quant room's reference kernels, or dense fp32.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"

namespace qsweep {

class CpuLinear : public Linear {
 public:
  // y[rows, out] = x[rows, in] · Wᵀ
  virtual void Forward(const float* x, int64_t rows, float* y) const = 0;
};

absl::StatusOr<std::unique_ptr<CpuLinear>> MakeCpuLinear(const std::string& name,
                                                         const std::string& scheme,
                                                         std::vector<float> weight, int64_t out,
                                                         int64_t in);

}  // namespace qsweep
