// Which runs of a sweep measure one layer's sensitivity: a named scheme entry
// (docs/schemes.md) that keeps the model dense and quantizes one layer, in
// one projection type or all of them, e.g.
//   {name: L3-down, scheme: bf16, overrides: [{layers: 3, projections: [down], format: w2a16-g64}]}
// The report draws those runs as a layers x projections heatmap.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace qsweep {

struct SensitivityCell {
  int64_t layer = 0;
  std::string projection;  // q k v o gate up down, or "all"
  std::string format;      // the scheme the layer was quantized with
};

// From a run's scheme JSON (quant/scheme.h SchemeJson); nullopt for any other
// scheme (quantized base, several rules or layers, "keep", unreadable JSON).
std::optional<SensitivityCell> SensitivityCellOf(const std::string& scheme_json);

}  // namespace qsweep
