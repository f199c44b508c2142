// What the GPU tests of linear layers share (lowbit_test.cc,
// act_quant_test.cc): a bf16 backend (skipped where there is no GPU), bf16
// inputs, scheme formats by name, and one product on the device.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "backend/cuda/cuda_backend.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "quant/scheme.h"
#include "random_for_test.h"

namespace qsweep {

// bf16 activations, as a bf16 model's GEMMs take them.
inline std::vector<float> NormalBf16(int64_t n, uint32_t seed) {
  std::vector<float> v = Normal(n, seed);
  for (float& x : v) x = RoundBF16(x);
  return v;
}

inline WeightFormat FormatOf(const std::string& name) {
  auto s = ResolveScheme(name);
  QSWEEP_CHECK(s.ok());
  return s->format;
}

// The low-bit gemm's promise for the weights it computes with: the CPU's
// fp32 values exactly for integer and sign formats with groups of 64 inputs
// and more or one scale per row (kernels/lowbit/dequant_formats.cuh, the
// wide path), their bf16 rounding for every other format. Products that
// expand the weights (more than 64 rows, inputs not a multiple of 8, batch
// invariance outside a decode step) always use the bf16 rounding.
inline bool LowbitGemmKeepsFp32Weights(const WeightFormat& f) {
  const bool integer = f.kind == WeightKind::kInt || f.kind == WeightKind::kBinary || f.kind == WeightKind::kTernary;
  return integer && (f.group == 0 || f.group >= 64);
}

template <typename T>
T Must(absl::StatusOr<T> v) {
  QSWEEP_CHECK(v.ok());
  return *std::move(v);
}

class GpuLinearTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = CudaBackend::Create();
    if (!b.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine (" << b.status() << ")";
    gpu_ = std::move(*b);
    gpu_->SetModelPrecision(DType::kBF16);
  }
  // y[rows, out] = x·Wᵀ on the GPU, as fp32 or rounded to bf16, with batch
  // invariance on or off for this product.
  std::vector<float> Product(const Linear& l, const std::vector<float>& x, int64_t rows, DType ytype,
                             bool invariant = true) {
    gpu_->SetBatchInvariant(invariant);
    Act xa = Must(gpu_->AllocAs(rows, l.in_features(), DType::kBF16)),
        ya = Must(gpu_->AllocAs(rows, l.out_features(), ytype));
    gpu_->UploadTo(x, xa);
    gpu_->Matmul(l, xa, ya);
    std::vector<float> y = gpu_->Download(ya);
    gpu_->Free(xa);
    gpu_->Free(ya);
    gpu_->SetBatchInvariant(true);
    return y;
  }
  std::unique_ptr<CudaBackend> gpu_;
};

}  // namespace qsweep
