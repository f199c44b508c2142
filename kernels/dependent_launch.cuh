// Programmatic dependent launch (Hopper): a kernel launched with
// LaunchDependent may start while the kernel before it in the stream still
// runs, do the work that reads nothing its predecessor writes (a GEMM
// streams its weights, which no kernel of a forward writes; the kernels
// that make them are followed by a stream synchronization), then wait for the
// predecessor's completion and memory before touching anything else. The
// predecessor lets it start early by calling AllowDependents; a kernel
// that does not call it lets its dependents start only as its blocks exit.
// In a decode step of a few hundred kernels of a few microseconds each,
// this hides each GEMM's launch and the first microsecond of DRAM latency
// of its weight stream behind the kernel before it.
#pragma once
#include <cuda_runtime.h>

namespace qsweep::kernels::pdl {

// The next kernel, if launched with LaunchDependent, may be scheduled once
// every block of this one has called this (or exited). It may then occupy
// SMs beside this kernel's blocks, waiting in WaitForPredecessor.
__device__ inline void AllowDependents() { asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory"); }

// Blocks until the kernels this one depends on have completed and their
// writes are visible. A no-op for a kernel launched the ordinary way.
__device__ inline void WaitForPredecessor() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }

// Launches `kernel` so that it may overlap the previous kernel of the
// stream (it must call WaitForPredecessor before reading anything the
// previous kernels write, or writing anything they read). Also in stream
// capture: the graph keeps the programmatic edge.
template <class... Params, class... Args>
cudaError_t LaunchDependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                            Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

}  // namespace qsweep::kernels::pdl
