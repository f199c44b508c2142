#include "backend/cpu/cpu_linear.h"

#include "core/status_macros.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

absl::StatusOr<std::unique_ptr<PackedLinear>> Quantize(const std::string& name, const std::string& scheme,
                                                       const std::vector<float>& weight, int64_t out, int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ResolveScheme(scheme));
  return QuantizeLinear(FormatFor(spec, name), weight, out, in, nullptr, name, spec.method);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CpuLinear>> MakeCpuLinear(const std::string& name, const std::string& scheme,
                                                         std::vector<float> weight, int64_t out, int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> packed, Quantize(name, scheme, weight, out, in));
  return std::make_unique<CpuLinear>(std::move(packed));
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> MakeCpuLinearParts(
    const std::string& name, const std::string& scheme, std::vector<float> weight, int64_t out, int64_t in,
    int64_t first, int64_t count, int64_t total) {
  QSWEEP_CHECK(in % total == 0 && first + count <= total);
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> whole, Quantize(name, scheme, weight, out, in));
  const int64_t width = in / total;
  std::vector<std::unique_ptr<Linear>> parts;
  for (int64_t p = first; p < first + count; ++p)
    parts.push_back(std::make_unique<CpuLinear>(whole->SliceColumns(p * width, (p + 1) * width)));
  return parts;
}

}  // namespace qsweep
