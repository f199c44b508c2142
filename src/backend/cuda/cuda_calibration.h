// Calibration on the GPU (Backend::CreateHessianSum, Backend::Gptq):
//   the Hessian sums are GEMMs of each layer input with itself (cuBLAS,
//   fp32 accumulation; bf16 inputs multiply exactly on the tensor cores);
//   GPTQ runs quant/gptq.cc's steps around a device column loop: the
//   damped Hessian factorized, inverted and factorized again by cuSOLVER
//   (potrf, potri, potrf in fp32, as the reference's torch.linalg calls),
//   each block of 128 columns quantized by kernels/gptq.cuh, the later
//   columns updated by one cuBLAS GEMM per block.
// The device covers GPTQ without act-order, or with static groups, for
// groups that divide 128 or are multiples of it (and per channel), at the
// reference's block size of 128; the rest runs on the host
// (GptqQuantize), with the same results it always had.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "absl/status/statusor.h"
#include "backend/backend.h"

namespace qsweep {

class CudaCalibration {
 public:
  // Handles on `stream` (the backend's one stream).
  static absl::StatusOr<std::unique_ptr<CudaCalibration>> Create(cudaStream_t stream);
  ~CudaCalibration();
  CudaCalibration(const CudaCalibration&) = delete;
  CudaCalibration& operator=(const CudaCalibration&) = delete;

  // Inputs of `in` columns, fp32 or bf16.
  absl::StatusOr<std::unique_ptr<HessianSum>> CreateHessianSum(int64_t in);
  // Inputs of `in` columns, fp32 or bf16 (kernels/awq.cuh).
  absl::StatusOr<std::unique_ptr<ColumnAbsStats>> CreateColumnAbsStats(int64_t in);
  double SquaredError(const Act& a, const Act& b);
  absl::StatusOr<GptqResult> Gptq(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                  std::span<const float> hessian, const GptqOptions& options, std::string_view name);

 private:
  CudaCalibration() = default;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
  static constexpr int64_t kErrorSlice = int64_t{1} << 28;
  double* error_scratch_ = nullptr;  // SquaredError's partials
};

// Whether Gptq runs this format and these options on the device.
bool GptqRunsOnDevice(const WeightFormat& f, const GptqOptions& options);

}  // namespace qsweep
