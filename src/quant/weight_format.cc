#include "quant/weight_format.h"

#include "absl/strings/str_format.h"

namespace qsweep {

double WeightFormat::BitsPerWeight(int64_t in_features) const {
  if (kind == WeightKind::kDense) return dense_bits;
  // One fp16 scale (and uint8 zero point) per group; a shorter last group
  // when the group size does not divide the row.
  const int64_t g = group > 0 ? group : in_features;
  const double groups_per_weight = static_cast<double>((in_features + g - 1) / g) / static_cast<double>(in_features);
  double b = bits + 16.0 * groups_per_weight;
  if (asymmetric) b += 8.0 * groups_per_weight;
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
