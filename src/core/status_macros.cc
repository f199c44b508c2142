#include "core/status_macros.h"

#include <cstdio>
#include <cstdlib>

namespace qsweep::internal {

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "qsweep: internal error: check failed at %s:%d: %s\n", file, line, cond);
  std::abort();
}

}  // namespace qsweep::internal
