// Every kernel launch is checked where it is launched: a bad launch
// configuration (too much shared memory, a grid too large) is a bug of the
// program, reported with the launching file and line rather than at some
// later synchronization with the wrong location.
#pragma once
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

namespace qsweep::kernels {

// `e`: what the launch returned (cudaLaunchKernelEx), or the last error
// (a <<<>>> launch).
inline void CheckLaunch(const char* file, int line, cudaError_t e = cudaGetLastError()) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "qsweep: kernel launch failed at %s:%d: %s (%s)\n", file, line, cudaGetErrorName(e),
               cudaGetErrorString(e));
  std::abort();
}

}  // namespace qsweep::kernels

#define QSWEEP_KERNEL_CHECK() ::qsweep::kernels::CheckLaunch(__FILE__, __LINE__)
#define QSWEEP_KERNEL_LAUNCH_CHECK(launch) ::qsweep::kernels::CheckLaunch(__FILE__, __LINE__, (launch))
