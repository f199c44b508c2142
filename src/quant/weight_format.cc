#include "quant/weight_format.h"

#include "absl/strings/str_format.h"

namespace qsweep {

double WeightFormat::BitsPerWeight(int64_t in_features) const {
  if (kind == WeightKind::kDense) return dense_bits;
  const double group_size = group > 0 ? static_cast<double>(group) : static_cast<double>(in_features);
  double b = bits + 16.0 / group_size;  // one fp16 scale per group (or per channel)
  if (asymmetric) b += 8.0 / group_size;  // one uint8 zero point per group
  return b;
}

std::string WeightFormat::Describe() const {
  static const char* kKinds[] = {"dense", "int", "binary", "ternary", "nf4", "fp4", "fp8"};
  if (kind == WeightKind::kDense)
    return dense_bits == 32 ? "fp32" : (dense_fp16 ? "fp16" : "bf16");
  return absl::StrFormat("%s%d %s%s", kKinds[static_cast<int>(kind)], bits,
                         group > 0 ? absl::StrFormat("g%d", group) : std::string("per-channel"),
                         asymmetric ? " asym" : "");
}

}  // namespace qsweep
