#include "model/scheme_summary.h"

#include "core/status_macros.h"
#include "model/size_report.h"
#include "quant/scheme.h"

namespace qsweep {

SchemeSummary SummarizeScheme(const SchemeSpec& spec, const Checkpoint& checkpoint, const std::string& name) {
  const SizeReport sizes = ComputeSizes(spec, checkpoint.tensors());
  return SchemeSummary{name.empty() ? SchemeName(spec) : name, SchemeJson(spec), sizes.bits_per_weight(),
                       sizes.bytes()};
}

}  // namespace qsweep
