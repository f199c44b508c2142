#include "backend/cuda/act_quant_gemm.h"

#include "backend/cuda/cublaslt_plan.h"
#include "core/status_macros.h"
#include "int8_gemm.cuh"

namespace qsweep {
namespace {

cudaDataType_t OutType(kernels::ScaledOut out) { return out == kernels::ScaledOut::kBf16 ? CUDA_R_16BF : CUDA_R_32F; }

}  // namespace

struct ActQuantGemm::Plan : LtPlan {};

ActQuantGemm::ActQuantGemm(cublasLtHandle_t lt, void* workspace, size_t workspace_bytes, int sms)
    : lt_(lt), workspace_(workspace), workspace_bytes_(workspace_bytes), sms_(sms) {}
ActQuantGemm::~ActQuantGemm() = default;

namespace {

// Column-major view, as the bf16 GEMMs: D[m = out, n = rows] = Wᵀ·X with W
// [m, k] row-major (read transposed: the "TN" form the int8 and fp8
// tensor-core kernels require) and X the codes [n, k].
template <typename Plan, typename Key>
void Describe(const Key& key, int64_t n, void* scale_dummy, Plan* p) {
  const cudaDataType_t ab = key.fp8 ? CUDA_R_8F_E4M3 : CUDA_R_8I;
  const cudaDataType_t d = key.fp8 ? (key.fused ? OutType(key.out) : CUDA_R_32F) : CUDA_R_32I;
  QSWEEP_LT_CHECK(cublasLtMatmulDescCreate(&p->desc, key.fp8 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32I,
                                        key.fp8 ? CUDA_R_32F : CUDA_R_32I));
  const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
  QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
  QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
  if (key.fp8 && key.fused) {
    const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
    QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode));
    QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode));
    for (auto attr : {CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER})
      QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, attr, &scale_dummy, sizeof scale_dummy));
  }
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->a, ab, key.k, key.m, key.k));
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->b, ab, key.k, n, key.k));
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->c, d, key.m, n, key.ldd));
}

}  // namespace

ActQuantGemm::Plan* ActQuantGemm::PlanFor(const Key& key) {
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  auto heuristic = [&](const Plan& shape, bool no_split_k, cublasLtMatmulAlgo_t* algo) {
    cublasLtMatmulPreference_t pref;
    QSWEEP_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &workspace_bytes_, sizeof workspace_bytes_));
    const uint32_t none = CUBLASLT_REDUCTION_SCHEME_NONE;
    if (no_split_k)
      QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &none,
                                                        sizeof none));
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &key.align_d, sizeof key.align_d));
    cublasLtMatmulHeuristicResult_t r{};
    int found = 0;
    const cublasStatus_t s =
        cublasLtMatmulAlgoGetHeuristic(lt_, shape.desc, shape.a, shape.b, shape.c, shape.c, pref, 1, &r, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0) return false;
    *algo = r.algo;
    return true;
  };
  auto p = std::make_unique<Plan>();
  Describe(key, key.n, workspace_, p.get());
  bool ok = false;
  if (!key.per_rows) {
    // One algorithm per shape, chosen at a fixed row count (as the bf16
    // GEMMs' AlgoFor), so that a row's sum runs in one order in any batch.
    Plan canonical;
    Describe(key, 8192, workspace_, &canonical);
    ok = heuristic(canonical, true, &p->algo);
    cublasLtMatmulHeuristicResult_t check{};
    ok = ok && cublasLtMatmulAlgoCheck(lt_, p->desc, p->a, p->b, p->c, p->c, &p->algo, &check) ==
                   CUBLAS_STATUS_SUCCESS &&
         check.workspaceSize <= workspace_bytes_;
    // Integer sums are exact in any order: another algorithm is as good.
    QSWEEP_CHECK(ok || !key.fp8 || key.fused || !"the fp8 shape's algorithm does not run this row count");
  }
  if (!ok) ok = heuristic(*p, false, &p->algo);
  QSWEEP_CHECK(ok || key.fused || !"cuBLASLt has no int8 / fp8 kernel for a padded shape");
  auto& slot = plans_[key];
  if (ok) slot = std::move(p);
  return slot.get();
}

void ActQuantGemm::Run(const ActQuantOnDevice& w, const void* x, DType xtype, int64_t rows, int64_t ldx, void* y,
                       int64_t ldy, kernels::ScaledOut out, const Buffers& b, bool per_rows, cudaStream_t stream) {
  if (rows == 0) return;
  if (xtype == DType::kBF16)
    kernels::QuantizeActivations(static_cast<const __nv_bfloat16*>(x), rows, w.in, ldx, w.act, b.codes, w.in_padded,
                                 b.scales, stream);
  else
    kernels::QuantizeActivations(static_cast<const float*>(x), rows, w.in, ldx, w.act, b.codes, w.in_padded,
                                 b.scales, stream);
  const int8_t* a = w.codes;
  if (w.nibbles) {
    kernels::UnpackInt4(reinterpret_cast<const uint8_t*>(w.codes), w.out_padded * w.in_padded, b.unpacked, stream);
    a = b.unpacked;
  }
  // Integer products where the int8 tensor-core kernel pays
  // (kernels/int8_gemm.cuh). Its sums are exact, as cuBLASLt's are, so a
  // row has the same bits on either path.
  if (!w.fp8 && kernels::Int8GemmPays(rows, w.out, sms_) && kernels::Int8GemmTakes(b.codes, a, w.in_padded, ldy)) {
    kernels::Int8Gemm(b.codes, rows, a, w.out, w.out_padded, w.in_padded, b.scales, w.scales, y, ldy, out, stream);
    return;
  }
  const bool add = out == kernels::ScaledOut::kAddF32;
  if (w.fp8) {
    const int64_t ybytes = out == kernels::ScaledOut::kBf16 ? 2 : 4;
    const Key fused{true, true, w.out, rows, w.in_padded, ldy, out, OperandAlignment(y, ldy * ybytes), per_rows};
    if (Plan* p = PlanFor(fused)) {
      const void* ws = w.scales;
      const void* xs = b.scales;
      QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &ws, sizeof ws));
      QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &xs, sizeof xs));
      const float alpha = 1.0f, beta = add ? 1.0f : 0.0f;
      QSWEEP_LT_CHECK(cublasLtMatmul(lt_, p->desc, &alpha, a, p->a, b.codes, p->b, &beta, y, p->c, y, p->c, &p->algo,
                                  workspace_, workspace_bytes_, stream));
      return;
    }
  }
  const Key unfused{w.fp8, false, w.out_padded, rows, w.in_padded, w.out_padded, kernels::ScaledOut::kF32, 256,
                    per_rows};
  Plan* p = PlanFor(unfused);
  if (w.fp8) {
    const float alpha = 1.0f, beta = 0.0f;
    QSWEEP_LT_CHECK(cublasLtMatmul(lt_, p->desc, &alpha, a, p->a, b.codes, p->b, &beta, b.acc, p->c, b.acc, p->c,
                                &p->algo, workspace_, workspace_bytes_, stream));
    kernels::ScaleProduct(static_cast<const float*>(b.acc), rows, w.out, w.out_padded, b.scales, w.scales, y, ldy,
                          out, stream);
  } else {
    const int32_t alpha = 1, beta = 0;
    QSWEEP_LT_CHECK(cublasLtMatmul(lt_, p->desc, &alpha, a, p->a, b.codes, p->b, &beta, b.acc, p->c, b.acc, p->c,
                                &p->algo, workspace_, workspace_bytes_, stream));
    kernels::ScaleProduct(static_cast<const int32_t*>(b.acc), rows, w.out, w.out_padded, b.scales, w.scales, y, ldy,
                          out, stream);
  }
}

}  // namespace qsweep
