#include "report/speed_caveat.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"

namespace qsweep {

bool IsHopper(const std::string& device) {
  for (const absl::string_view word : absl::StrSplit(device, absl::ByAnyChar(" -_"), absl::SkipEmpty()))
    for (const char* model : {"H100", "H200", "H800", "H20", "GH200"})
      if (word == model) return true;
  return false;
}

std::string SpeedCaveat(const MetricsFileData& m, size_t i) {
  if (i >= m.devices.size() || !IsHopper(m.devices[i])) return "";
  for (const MetricsCandidateData& c : m.candidates) {
    if (c.scheme != m.schemes[i]) continue;
    const nlohmann::json j = nlohmann::json::parse(c.scheme_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("activations", "") == "int4")
      return "not native on sm_90: Hopper has no 4-bit MMA, so its 4-bit activation codes run the int8 path";
  }
  return "";
}

}  // namespace qsweep
