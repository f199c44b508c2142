// What a scheme's measured speed does not show: on Hopper (sm_90), whose
// tensor cores have no 4-bit integer MMA, a scheme with 4-bit activation
// codes (W4A4) runs them through the int8 path, so its speed is not what
// hardware with 4-bit MMA would give.
#pragma once
#include <cstddef>
#include <string>

#include "io/metrics_reader.h"

namespace qsweep {

// Whether a CUDA device name is a Hopper GPU's (H100, H200, H800, H20, GH200).
bool IsHopper(const std::string& device);

// The caveat on schemes[i]'s speed ("" when there is none): its
// activations from the run's scheme JSON, its device from the summary.
std::string SpeedCaveat(const MetricsFileData& m, size_t i);

}  // namespace qsweep
