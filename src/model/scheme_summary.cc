#include "model/scheme_summary.h"

#include "core/status_macros.h"
#include "model/size_report.h"
#include "quant/scheme.h"

namespace qsweep {

absl::StatusOr<SchemeSummary> SummarizeScheme(const std::string& scheme, const Checkpoint& checkpoint,
                                              const std::string& name) {
  QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ResolveScheme(scheme));
  const SizeReport sizes = ComputeSizes(spec, checkpoint.tensors());
  return SchemeSummary{name.empty() ? SchemeName(spec) : name, SchemeJson(spec), sizes.bits_per_weight(),
                       sizes.bytes()};
}

}  // namespace qsweep
