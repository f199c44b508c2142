#include "backend/cpu/cpu_linear.h"

#include "absl/strings/str_format.h"
#include "backend/cpu/gemm.h"
#include "core/dtype.h"

namespace qsweep {
namespace {

class DenseLinear : public CpuLinear {
 public:
  DenseLinear(std::vector<float> w, int64_t out, int64_t in) : w_(std::move(w)), out_(out), in_(in) {}
  int64_t out_features() const override { return out_; }
  int64_t in_features() const override { return in_; }
  void Forward(const float* x, int64_t rows, float* y) const override {
    GemmNT(rows, out_, in_, x, w_.data(), y);
  }

 private:
  std::vector<float> w_;
  int64_t out_, in_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CpuLinear>> MakeCpuLinear(const std::string& name,
                                                         const std::string& scheme,
                                                         std::vector<float> weight, int64_t out,
                                                         int64_t in) {
  if (static_cast<int64_t>(weight.size()) != out * in)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d weights for [%d, %d]", name,
                                                      weight.size(), out, in));
  if (scheme == "bf16")
    for (float& w : weight) w = RoundBF16(w);
  else if (scheme == "fp16")
    for (float& w : weight) w = RoundF16(w);
  else if (scheme != "fp32")
    return absl::UnimplementedError(absl::StrFormat("%s: scheme '%s' on the CPU", name, scheme));
  return std::make_unique<DenseLinear>(std::move(weight), out, in);
}

}  // namespace qsweep
