// Work-unit results as bytes: what a replica sends to the writer rank.
#pragma once
#include <cstdint>
#include <vector>

#include "eval/work_units.h"

namespace qsweep {

std::vector<uint8_t> EncodeUnitResult(const UnitResult& result);
// Bytes this program encoded (MPI messages); with `ok`, bytes from a file,
// whose damage sets *ok to false instead of aborting.
UnitResult DecodeUnitResult(const std::vector<uint8_t>& bytes, bool* ok = nullptr);

}  // namespace qsweep
