// Work-unit results as bytes: what a replica sends to the writer rank.
#pragma once
#include <cstdint>
#include <vector>

#include "eval/work_units.h"

namespace qsweep {

std::vector<uint8_t> EncodeUnitResult(const UnitResult& result);
UnitResult DecodeUnitResult(const std::vector<uint8_t>& bytes);

}  // namespace qsweep
