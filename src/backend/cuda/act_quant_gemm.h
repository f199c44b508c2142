// The products of activation-quantized layers on the GPU (W8A8, W4A8, W4A4,
// FP8): each product quantizes its input rows on the device
// (kernels/act_quant.cuh), multiplies the codes on the tensor cores through
// cuBLASLt, and scales by both scales.
//   integer: int8 x int8 -> int32 (4-bit weights unpacked to int8 first), then
//     float(acc) * x_scale * w_scale: exact, the CPU reference's bits;
//   fp8: e4m3 x e4m3 accumulated as Hopper's fp8 MMA does (about 14
//     significant bits within an instruction, fp32 across), the per-token and per-channel
//     scales applied by cuBLASLt's outer-vector scaling (where the shape
//     allows it, else an fp32 product and the scaling kernel).
// Padding: weights are stored [out_padded, in_padded] (multiples of 16, as
// the tensor-core kernels want their dimensions) with zero codes and scales
// in the padding, and the activation codes likewise, so the padded sums are
// the true ones. A row's result does not depend on the other rows of the
// batch: integer products are exact, and the fp8 GEMM runs one algorithm
// per shape whatever the row count (no split-K), as the bf16 GEMMs do.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "act_quant.cuh"
#include "core/dtype.h"

namespace qsweep {

struct ActQuantOnDevice {
  kernels::ActCode act = kernels::ActCode::kInt8;  // the activations' codes
  bool fp8 = false;                                // e4m3 weights (else integers)
  bool nibbles = false;                            // 4-bit integer codes, two per byte
  const int8_t* codes = nullptr;                   // [out_padded, in_padded] (bytes: half that for nibbles)
  const float* scales = nullptr;                   // [out_padded]
  int64_t out = 0, in = 0, out_padded = 0, in_padded = 0;
};

inline int64_t PadTo16(int64_t n) { return (n + 15) / 16 * 16; }

class ActQuantGemm {
 public:
  // sms: the device's multiprocessors (which kernel pays for a product).
  ActQuantGemm(cublasLtHandle_t lt, void* workspace, size_t workspace_bytes, int sms);
  ~ActQuantGemm();

  // The scratch a product needs: codes [rows, in_padded] and scales [rows],
  // the int32 / fp32 product [rows, out_padded] where it is not fused, and
  // for 4-bit weights their int8 unpacking [out_padded, in_padded].
  struct Buffers {
    int8_t* codes;
    float* scales;
    void* acc;
    int8_t* unpacked;
  };
  static int64_t AccBytes(const ActQuantOnDevice& w, int64_t rows) { return rows * w.out_padded * 4; }

  // y[rows, out] (row stride ldy) = or += the product of x [rows, in] (row
  // stride ldx, xtype fp32 or bf16). per_rows: the fastest algorithm for
  // this row count instead of the shape's one (batch invariance off).
  void Run(const ActQuantOnDevice& w, const void* x, DType xtype, int64_t rows, int64_t ldx, void* y, int64_t ldy,
           kernels::ScaledOut out, const Buffers& b, bool per_rows, cudaStream_t stream);

 private:
  struct Key {
    bool fp8, fused;
    int64_t m, n, k, ldd;
    kernels::ScaledOut out;
    uint32_t align_d;
    bool per_rows;
    auto operator<=>(const Key&) const = default;
  };
  struct Plan;
  // The plan of `key`, or null where cuBLASLt has no kernel for it (only
  // asked of fused fp8 shapes, which then run unfused).
  Plan* PlanFor(const Key& key);

  cublasLtHandle_t lt_;
  void* workspace_;
  size_t workspace_bytes_;
  int sms_;
  std::map<Key, std::unique_ptr<Plan>> plans_;  // null entries: no kernel
};

}  // namespace qsweep
