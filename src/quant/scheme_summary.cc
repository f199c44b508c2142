#include "quant/scheme_summary.h"

#include "absl/strings/str_format.h"

namespace qsweep {

absl::StatusOr<SchemeSummary> SummarizeScheme(const std::string& scheme, const Checkpoint& checkpoint) {
  int64_t params = 0;
  for (const TensorInfo& t : checkpoint.tensors()) params += t.numel();
  double bits = 0;
  if (scheme == "fp32") bits = 32;
  else if (scheme == "bf16" || scheme == "fp16") bits = 16;
  else return absl::UnimplementedError(absl::StrFormat("scheme '%s'", scheme));
  return SchemeSummary{scheme, absl::StrFormat("{\"name\": \"%s\"}", scheme), bits,
                       static_cast<int64_t>(params * bits / 8)};
}

}  // namespace qsweep
