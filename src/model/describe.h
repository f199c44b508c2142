// A human-readable summary of a checkpoint (what `qsweep inspect` prints):
// config, parameter count, dtypes, size, content id. Reads no weights.
#pragma once
#include <cstdint>
#include <string>

#include "model/checkpoint.h"

namespace qsweep {

std::string DescribeCheckpoint(const Checkpoint& ckpt);

// "70,553,706,496"
std::string WithThousands(int64_t n);

}  // namespace qsweep
