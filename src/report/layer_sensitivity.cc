#include "report/layer_sensitivity.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace qsweep {

std::optional<SensitivityCell> SensitivityCellOf(const std::string& scheme_json) {
  const nlohmann::json j = nlohmann::json::parse(scheme_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const std::string base = j.value("base", "");
  if (base != "bf16" && base != "fp16" && base != "fp32") return std::nullopt;
  const auto rules = j.find("overrides");
  if (rules == j.end() || !rules->is_array() || rules->size() != 1) return std::nullopt;
  const nlohmann::json& r = (*rules)[0];
  const std::string scheme = r.value("scheme", "");
  if (scheme.empty() || scheme == "keep") return std::nullopt;
  long long first = -1, last = -2;
  char tail = 0;
  // SchemeJson writes "A-B" (B = -1 for an open range).
  if (std::sscanf(r.value("layers", "").c_str(), "%lld-%lld%c", &first, &last, &tail) != 2 || first != last ||
      first < 0)
    return std::nullopt;
  const nlohmann::json projections = r.value("projections", nlohmann::json::array());
  if (!projections.is_array() || projections.size() > 1) return std::nullopt;
  SensitivityCell cell;
  cell.layer = first;
  cell.projection = projections.empty() ? "all" : projections[0].get<std::string>();
  cell.format = scheme;
  return cell;
}

}  // namespace qsweep
