#include "model/calibration.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace qsweep {

std::string CalibrationReport::Json(const CalibrationSet& set, double base_damp) const {
  nlohmann::json j;
  j["id"] = set.id;
  j["source"] = set.source;
  j["sequences"] = set.sequences.size();
  j["length"] = set.sequences.empty() ? 0 : set.sequences[0].size();
  j["seed"] = set.seed;
  double max_damp = 0;
  int64_t dead = 0;
  nlohmann::json increased = nlohmann::json::object(), alphas = nlohmann::json::object();
  for (const TensorCalibration& t : tensors) {
    max_damp = std::max(max_damp, t.damp_used);
    dead += t.dead_columns;
    if (t.damp_used > base_damp) increased[t.name] = t.damp_used;
    if (t.awq_alpha >= 0) alphas[t.name] = t.awq_alpha;
  }
  j["tensors"] = tensors.size();
  j["max_damp_used"] = max_damp;
  j["damp_increased"] = increased;
  j["dead_columns"] = dead;
  if (!alphas.empty()) j["awq_alpha"] = alphas;
  return j.dump();
}

std::string CalibrationReport::AddToSchemeJson(const std::string& scheme_json, const CalibrationSet& set,
                                               double base_damp) const {
  nlohmann::json j = nlohmann::json::parse(scheme_json);
  j["calibration"] = nlohmann::json::parse(Json(set, base_damp));
  return j.dump();
}

}  // namespace qsweep
