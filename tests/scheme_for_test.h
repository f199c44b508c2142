// A scheme name or YAML spec resolved for a test, which a bad name fails.
#pragma once
#include <string>

#include "core/status_macros.h"
#include "quant/scheme.h"

namespace qsweep {

inline SchemeSpec TestScheme(const std::string& text) {
  absl::StatusOr<SchemeSpec> spec = ResolveScheme(text);
  QSWEEP_CHECK(spec.ok());
  return *spec;
}

}  // namespace qsweep
