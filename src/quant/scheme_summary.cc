#include "quant/scheme_summary.h"

#include "core/status_macros.h"
#include "quant/scheme.h"
#include "quant/size_report.h"

namespace qsweep {

absl::StatusOr<SchemeSummary> SummarizeScheme(const std::string& scheme, const Checkpoint& checkpoint,
                                              const std::string& name) {
  QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ResolveScheme(scheme));
  const SizeReport sizes = ComputeSizes(spec, checkpoint.tensors());
  return SchemeSummary{name.empty() ? SchemeName(spec) : name, SchemeJson(spec), sizes.bits_per_weight(),
                       sizes.bytes()};
}

}  // namespace qsweep
