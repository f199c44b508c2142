// A failing CUDA runtime call where the backend's own invariants say it
// cannot fail (not an allocation a user can exhaust: those go through
// TryMalloc) is a broken invariant: abort with the call, file and line.
#pragma once
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define QSWEEP_CUDA_CHECK(expr)                                                                   \
  do {                                                                                            \
    const cudaError_t _e = (expr);                                                                \
    if (_e != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "qsweep: CUDA error %s at %s:%d: %s\n", cudaGetErrorName(_e), __FILE__, \
                   __LINE__, #expr);                                                              \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
