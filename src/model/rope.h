// Rotary inverse frequencies of a config: default, linear and llama3 scaling
// (as transformers' _compute_llama3_parameters), computed on the host once.
#pragma once
#include <vector>

#include "model/model_config.h"

namespace qsweep {

std::vector<float> RopeInverseFrequencies(const ModelConfig& config);

}  // namespace qsweep
