#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "attention.cuh"
#include "attention_bf16.cuh"
#include "attention_wgmma.cuh"
#include "decoder_kernels.cuh"
#include "model/model_config.h"
#include "rank_sum.cuh"
#include "quant/packed_linear.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

#define QSWEEP_CUDA_CHECK(expr)                                                                   \
  do {                                                                                            \
    const cudaError_t _e = (expr);                                                                \
    if (_e != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "qsweep: CUDA error %s at %s:%d: %s\n", cudaGetErrorName(_e), __FILE__, \
                   __LINE__, #expr);                                                              \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

#define QSWEEP_LT_CHECK(expr)                                                                             \
  do {                                                                                                    \
    const cublasStatus_t _s = (expr);                                                                     \
    if (_s != CUBLAS_STATUS_SUCCESS) {                                                                    \
      std::fprintf(stderr, "qsweep: cuBLASLt error %d at %s:%d: %s\n", static_cast<int>(_s), __FILE__, __LINE__, \
                   #expr);                                                                                \
      std::abort();                                                                                       \
    }                                                                                                     \
  } while (0)

class GpuArray : public DeviceArray {
 public:
  explicit GpuArray(std::span<const float> v) : n_(static_cast<int64_t>(v.size())) {
    QSWEEP_CUDA_CHECK(cudaMalloc(&p_, std::max<size_t>(1, v.size()) * sizeof(float)));
    QSWEEP_CUDA_CHECK(cudaMemcpy(p_, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~GpuArray() override { cudaFree(p_); }
  int64_t size() const override { return n_; }
  const float* data() const { return p_; }

 private:
  float* p_ = nullptr;
  int64_t n_;
};

// Weights [out, in] row-major on the device, bf16 or fp32 (the fp32 scheme),
// in device storage that the parts of a row-parallel layer share: their
// weights lie one after another, which lets them run as one batched GEMM.
class GpuLinear : public Linear {
 public:
  // `live` counts the backend's layers by storage type while they exist.
  GpuLinear(std::shared_ptr<void> storage, const void* weights, int64_t out, int64_t in, bool bf16, bool head,
            int64_t* live)
      : storage_(std::move(storage)), p_(weights), out_(out), in_(in), bf16_(bf16), head_(head),
        live_(live + (bf16 ? 1 : 0)) {
    ++*live_;
  }
  ~GpuLinear() override { --*live_; }
  int64_t out_features() const override { return out_; }
  int64_t in_features() const override { return in_; }
  const void* data() const { return p_; }
  bool bf16() const { return bf16_; }
  bool head() const { return head_; }  // the vocabulary projection (its own stage in timings)

 private:
  std::shared_ptr<void> storage_;
  const void* p_;
  int64_t out_, in_;
  bool bf16_, head_;
  int64_t* live_;
};

// Device storage holding `w` as bf16 or fp32.
std::shared_ptr<void> UploadWeights(const std::vector<float>& w, bool bf16) {
  void* p = nullptr;
  if (bf16) {
    std::vector<uint16_t> h(w.size());
#pragma omp parallel for schedule(static) if (w.size() > (1 << 20))
    for (size_t i = 0; i < w.size(); ++i) h[i] = FloatToBF16(w[i]);
    QSWEEP_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, h.size()) * 2));
    QSWEEP_CUDA_CHECK(cudaMemcpy(p, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
  } else {
    QSWEEP_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, w.size()) * 4));
    QSWEEP_CUDA_CHECK(cudaMemcpy(p, w.data(), w.size() * 4, cudaMemcpyHostToDevice));
  }
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

using bf16 = __nv_bfloat16;
// An activation's elements, checked against the type the caller expects.
const float* F(const Act& a) {
  QSWEEP_CHECK(!a.bf16);
  return static_cast<const float*>(a.data);
}
float* F(Act& a) {
  QSWEEP_CHECK(!a.bf16);
  return static_cast<float*>(a.data);
}
const bf16* B(const Act& a) {
  QSWEEP_CHECK(a.bf16);
  return static_cast<const bf16*>(a.data);
}
bf16* B(Act& a) {
  QSWEEP_CHECK(a.bf16);
  return static_cast<bf16*>(a.data);
}
int64_t Bytes(const Act& a) { return a.rows * a.cols * (a.bf16 ? 2 : 4); }
const float* F(const DeviceArray& a) { return static_cast<const GpuArray&>(a).data(); }

// The weights a tensor gets on the GPU, [out, in] in fp32, and whether they
// are stored as bf16: the scheme's dequantized values; fp32 for the fp32
// reference and for fp16 (whose values bf16 cannot hold).
absl::StatusOr<std::pair<std::vector<float>, bool>> GpuWeights(const std::string& name, const std::string& scheme,
                                                               std::vector<float> w, int64_t out, int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ResolveScheme(scheme));
  const WeightFormat f = FormatFor(spec, name);
  if (f.act != ActKind::kNone)
    return absl::UnimplementedError(absl::StrFormat("%s: %s needs activation quantization, not on the GPU yet", name, scheme));
  // bf16 storage rounds exactly as the bf16 format does: no detour through
  // the packed format (which for an 8B model costs minutes of host time).
  if (f.kind == WeightKind::kDense && f.dense_bits == 16 && !f.dense_fp16) return std::make_pair(std::move(w), true);
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> p, QuantizeLinear(f, w, out, in, nullptr, name, spec.method));
  p->Dequantize(w);
  return std::make_pair(std::move(w), f.quantized());
}

}  // namespace

struct CudaBackend::GemmPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~GemmPlan() {
    if (desc) cublasLtMatmulDescDestroy(desc);
    for (auto l : {a, b, c})
      if (l) cublasLtMatrixLayoutDestroy(l);
  }
};

// Brackets one operation with CUDA events when stage timing is on.
class CudaBackend::StageScope {
 public:
  StageScope(CudaBackend* b, Stage stage) : b_(b->timing_ ? b : nullptr), stage_(stage) {
    if (b_) QSWEEP_CUDA_CHECK(cudaEventRecord(begin_ = b_->Event(), 0));
  }
  ~StageScope() {
    if (!b_) return;
    cudaEvent_t end = b_->Event();
    QSWEEP_CUDA_CHECK(cudaEventRecord(end, 0));
    b_->stage_events_.push_back({stage_, begin_, end});
  }

 private:
  CudaBackend* b_;
  Stage stage_;
  cudaEvent_t begin_ = nullptr;
};

const char* CudaBackend::StageName(Stage s) {
  static const char* const kNames[] = {"gemm", "head gemm", "attention", "norm", "elementwise", "logit stats",
                                       "all-reduce"};
  return kNames[static_cast<int>(s)];
}

cudaEvent_t CudaBackend::Event() {
  if (free_events_.empty()) {
    cudaEvent_t e;
    QSWEEP_CUDA_CHECK(cudaEventCreate(&e));
    return e;
  }
  cudaEvent_t e = free_events_.back();
  free_events_.pop_back();
  return e;
}

std::vector<double> CudaBackend::StageMillis() {
  std::vector<double> ms(static_cast<int>(Stage::kCount), 0.0);
  Synchronize();
  for (const StageEvents& e : stage_events_) {
    float t = 0;
    QSWEEP_CUDA_CHECK(cudaEventElapsedTime(&t, e.begin, e.end));
    ms[static_cast<int>(e.stage)] += t;
    free_events_.push_back(e.begin);
    free_events_.push_back(e.end);
  }
  stage_events_.clear();
  return ms;
}

std::string CudaBackend::DeviceName() const {
  cudaDeviceProp p{};
  QSWEEP_CUDA_CHECK(cudaGetDeviceProperties(&p, device_));
  return p.name;
}

void CudaBackend::Synchronize() const { QSWEEP_CUDA_CHECK(cudaDeviceSynchronize()); }

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int local_rank) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return absl::UnavailableError("no CUDA device");
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = local_rank % n;
  QSWEEP_CUDA_CHECK(cudaSetDevice(b->device_));
  QSWEEP_LT_CHECK(cublasLtCreate(&b->lt_));
  QSWEEP_CUDA_CHECK(cudaMalloc(&b->workspace_, b->workspace_bytes_));
  return b;
}

CudaBackend::~CudaBackend() {
  StageMillis();
  for (cudaEvent_t e : free_events_) cudaEventDestroy(e);
  group_.reset();
  plans_.clear();
  for (auto& [slot, buf] : scratch_) cudaFree(buf.first);
  if (host_stats_) cudaFreeHost(host_stats_);
  if (workspace_) cudaFree(workspace_);
  if (lt_) cublasLtDestroy(lt_);
}

void* CudaBackend::Scratch(int slot, size_t bytes) {
  auto& [p, size] = scratch_[slot];
  if (size < bytes) {
    if (slot == 8) uploaded_targets_.clear();  // the targets' copy goes with the buffer
    if (p) QSWEEP_CUDA_CHECK(cudaFree(p));
    QSWEEP_CUDA_CHECK(cudaMalloc(&p, bytes));
    size = bytes;
  }
  return p;
}

int64_t CudaBackend::FreeMemoryBytes() const {
  size_t free = 0, total = 0;
  QSWEEP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(free);
}

bool CudaBackend::ComputeBf16() const { return live_linears_[0] == 0 && live_linears_[1] > 0; }

int CudaBackend::ElementBytes(ActRole role) const { return role == ActRole::kCompute && ComputeBf16() ? 2 : 4; }

Act CudaBackend::Alloc(int64_t rows, int64_t cols, ActRole role) {
  return AllocAs(rows, cols, role == ActRole::kCompute && ComputeBf16());
}

Act CudaBackend::AllocAs(int64_t rows, int64_t cols, bool bf16) {
  Act a{nullptr, rows, cols, bf16};
  const size_t bytes = std::max<int64_t>(1, rows * cols) * (bf16 ? 2 : 4);
  QSWEEP_CUDA_CHECK(cudaMalloc(&a.data, bytes));
  QSWEEP_CUDA_CHECK(cudaMemset(a.data, 0, bytes));
  return a;
}

void CudaBackend::Free(Act& a) {
  cudaFree(a.data);
  a = Act{};
}

std::unique_ptr<DeviceArray> CudaBackend::Upload(std::span<const float> values) {
  return std::make_unique<GpuArray>(values);
}

absl::StatusOr<std::unique_ptr<Linear>> CudaBackend::CreateLinear(const std::string& name, const std::string& scheme,
                                                                  std::vector<float> weight, int64_t out, int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(auto w, GpuWeights(name, scheme, std::move(weight), out, in));
  std::shared_ptr<void> storage = UploadWeights(w.first, w.second);
  const void* p = storage.get();
  return std::make_unique<GpuLinear>(std::move(storage), p, out, in, w.second, name == LmHeadName(), live_linears_);
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::CreateLinearParts(
    const std::string& name, const std::string& scheme, std::vector<float> weight, int64_t out, int64_t in,
    int64_t first, int64_t count, int64_t total) {
  QSWEEP_ASSIGN_OR_RETURN(auto whole, GpuWeights(name, scheme, std::move(weight), out, in));
  const int64_t width = in / total;
  // This rank's parts, each [out, width], one after another.
  std::vector<float> w;
  w.reserve(count * out * width);
  for (int64_t p = first; p < first + count; ++p)
    for (int64_t r = 0; r < out; ++r)
      w.insert(w.end(), whole.first.begin() + r * in + p * width, whole.first.begin() + r * in + (p + 1) * width);
  std::shared_ptr<void> storage = UploadWeights(w, whole.second);
  const int64_t part_bytes = out * width * (whole.second ? 2 : 4);
  std::vector<std::unique_ptr<Linear>> parts;
  for (int64_t p = 0; p < count; ++p)
    parts.push_back(std::make_unique<GpuLinear>(storage, static_cast<const char*>(storage.get()) + p * part_bytes, out,
                                                width, whole.second, false, live_linears_));
  return parts;
}

void CudaBackend::SetLayout(const SequenceLayout& l) {
  layout_rows_ = l.rows();
  // What the tiled attention kernel relies on: keys of row r lie in
  // [seq_begin[r], r], and seq_begin never decreases (TokenBatch packs so).
  for (int64_t r = 0; r < l.rows(); ++r)
    QSWEEP_CHECK(l.seq_begin[r] <= l.prefix_end[r] && l.prefix_end[r] <= l.branch_begin[r] &&
                 l.branch_begin[r] <= r && (r == 0 || l.seq_begin[r - 1] <= l.seq_begin[r]));
  const size_t n = l.positions.size();
  QSWEEP_CUDA_CHECK(cudaMemcpy(Scratch(1, n * 4), l.positions.data(), n * 4, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Scratch(2, n * 8), l.seq_begin.data(), n * 8, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Scratch(3, n * 8), l.prefix_end.data(), n * 8, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Scratch(4, n * 8), l.branch_begin.data(), n * 8, cudaMemcpyHostToDevice));
}

void CudaBackend::Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids, Act& out) {
  auto* d = static_cast<int32_t*>(Scratch(5, ids.size() * 4));
  QSWEEP_CUDA_CHECK(cudaMemcpy(d, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
  StageScope t(this, Stage::kElementwise);
  kernels::Embed(F(table), dim, d, static_cast<int64_t>(ids.size()), F(out), 0);
}

void CudaBackend::RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) {
  StageScope t(this, Stage::kNorm);
  if (out.bf16)
    kernels::RmsNorm(F(x), F(w), x.rows, x.cols, eps, B(out), 0);
  else
    kernels::RmsNorm(F(x), F(w), x.rows, x.cols, eps, F(out), 0);
}

CudaBackend::GemmPlan& CudaBackend::Plan(const GemmShape& g) {
  auto& slot = plans_[g];
  if (slot) return *slot;
  // Column-major view: C[m=out, n=rows] = op(A)[out, in] · B[in, rows], with A
  // the row-major weight [out, in] read transposed and B the row-major input
  // (row stride ldb); `batch` such products at the given element strides.
  auto p = std::make_unique<GemmPlan>();
  const cudaDataType_t ab = g.ab_bf16 ? CUDA_R_16BF : CUDA_R_32F, c = g.c_bf16 ? CUDA_R_16BF : CUDA_R_32F;
  QSWEEP_LT_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
  QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
  QSWEEP_LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->a, ab, g.k, g.m, g.k));
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->b, ab, g.k, g.n, g.ldb));
  QSWEEP_LT_CHECK(cublasLtMatrixLayoutCreate(&p->c, c, g.m, g.n, g.m));
  if (g.batch > 1) {
    const int32_t batch = g.batch;
    const std::pair<cublasLtMatrixLayout_t, int64_t> strided[] = {{p->a, g.stride_a}, {p->b, g.stride_b},
                                                                  {p->c, g.stride_c}};
    for (const auto& [layout, stride] : strided) {
      QSWEEP_LT_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                       sizeof batch));
      QSWEEP_LT_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                       sizeof stride));
    }
  }
  cublasLtMatmulPreference_t pref;
  QSWEEP_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                       sizeof workspace_bytes_));
  // No split-K: each output's sum over k then runs in one order whatever the
  // tile shape, which keeps column-parallel slices equal to the whole layer.
  const uint32_t no_split_k = CUBLASLT_REDUCTION_SCHEME_NONE;
  QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &no_split_k,
                                                       sizeof no_split_k));
  // Slices read in place need not start on the 256-byte boundary the
  // heuristic assumes by default: tell it what the operands guarantee.
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, g.align_a},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, g.align_b},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, g.align_c},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, g.align_c}};
  for (const auto& [attribute, bytes] : alignments)
    QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &bytes, sizeof bytes));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  QSWEEP_LT_CHECK(cublasLtMatmulAlgoGetHeuristic(lt_, p->desc, p->a, p->b, p->c, p->c, pref, 1, &result, &found));
  cublasLtMatmulPreferenceDestroy(pref);
  QSWEEP_CHECK(found > 0);
  p->algo = result.algo;
  slot = std::move(p);
  return *slot;
}

const void* CudaBackend::GemmInput(const Act& x, bool bf16_weights) {
  if (!bf16_weights || x.bf16) {
    QSWEEP_CHECK(x.bf16 == bf16_weights);  // fp32 weights only ever meet fp32 activations
    return x.data;
  }
  auto* xb = static_cast<bf16*>(Scratch(6, x.rows * x.cols * 2));
  kernels::ToBf16(F(x), x.rows * x.cols, xb, 0);
  return xb;
}

// The largest power of two <= 256 that divides every address of the operand
// (its base and, when batched, the base plus any multiple of the stride).
static uint32_t Alignment(const void* p, int64_t stride_bytes) {
  const uint64_t bits = reinterpret_cast<uintptr_t>(p) | static_cast<uint64_t>(stride_bytes) | 256;
  return static_cast<uint32_t>(bits & (~bits + 1));
}

void CudaBackend::Gemm(GemmShape g, const void* a, const void* b, const void* c, void* d, float beta) {
  const int64_t ab = g.ab_bf16 ? 2 : 4, cb = g.c_bf16 ? 2 : 4;
  g.align_a = Alignment(a, g.batch > 1 ? g.stride_a * ab : 0);
  g.align_b = Alignment(b, g.batch > 1 ? g.stride_b * ab : 0);
  g.align_c = std::min(Alignment(c, g.batch > 1 ? g.stride_c * cb : 0), Alignment(d, g.batch > 1 ? g.stride_c * cb : 0));
  GemmPlan& p = Plan(g);
  const float alpha = 1.0f;
  QSWEEP_LT_CHECK(cublasLtMatmul(lt_, p.desc, &alpha, a, p.a, b, p.b, &beta, c, p.c, d, p.c, &p.algo, workspace_,
                                 workspace_bytes_, 0));
}

void CudaBackend::Matmul(const Linear& l, const Act& x, Act& y) {
  const auto& g = static_cast<const GpuLinear&>(l);
  QSWEEP_CHECK(x.cols == g.in_features() && y.cols == g.out_features() && x.rows == y.rows);
  if (x.rows == 0) return;
  StageScope t(this, g.head() ? Stage::kHead : Stage::kGemm);
  const void* b = GemmInput(x, g.bf16());
  const GemmShape shape{g.out_features(), x.rows, g.in_features(), g.in_features(), g.bf16(), y.bf16};
  Gemm(shape, g.data(), b, y.data, y.data, 0.0f);
}

// The parts' products read their column slices of `in` in place (no slice
// copies) and, when the weights and outputs lie at fixed strides (as the
// decoder allocates them), run as one strided batched GEMM. They are held at
// the compute precision (bf16 for a bf16 model, as every GEMM output is);
// the tree sum runs in fp32 and, at tp 1, adds into the residual in the same
// pass. With tensor parallelism the rank's tree goes to an fp32 buffer, the
// all-reduce completes the tree across ranks, then the residual add. A single
// part at tp 1 needs no tree: its GEMM adds into the residual in its epilogue.
void CudaBackend::RowParallelAdd(std::span<const std::unique_ptr<Linear>> parts, const Act& in, std::span<Act>,
                                 std::span<Act> outs, Act& residual) {
  const int64_t count = static_cast<int64_t>(parts.size()), n = in.rows;
  const auto& p0 = static_cast<const GpuLinear&>(*parts[0]);
  const int64_t out = p0.out_features(), width = p0.in_features();
  QSWEEP_CHECK(count <= kernels::kMaxTreeRanks && in.cols == count * width && residual.rows == n &&
               residual.cols == out && !residual.bf16);
  if (n == 0) return;
  const bool grouped = group_ && group_->size() > 1;
  if (count == 1 && !grouped) {
    // The whole layer as one part (parallel.reduction: fast, or a width with
    // one canonical part): the GEMM adds its fp32 result into the residual in
    // its epilogue. With tp > 1 a rank's single part may be one of the
    // canonical ones (tp 8 of 8 parts), whose product tp 1 rounds to the
    // compute precision: that path below, for every reduction.
    StageScope t(this, Stage::kGemm);
    const GemmShape shape{out, n, width, in.cols, p0.bf16(), false};
    return Gemm(shape, p0.data(), GemmInput(in, p0.bf16()), residual.data, residual.data, 1.0f);
  }
  const bool obf16 = outs[0].bf16;
  const int64_t wbytes = p0.bf16() ? 2 : 4, xbytes = wbytes, obytes = obf16 ? 2 : 4;
  const auto* w = static_cast<const char*>(p0.data());
  const auto* o0 = static_cast<char*>(outs[0].data);
  const int64_t ostride = count > 1 ? static_cast<char*>(outs[1].data) - o0 : 0;
  bool batched = count > 1 && ostride % obytes == 0;
  for (int64_t p = 0; p < count; ++p) {
    const auto& lp = static_cast<const GpuLinear&>(*parts[p]);
    QSWEEP_CHECK(lp.bf16() == p0.bf16() && lp.out_features() == out && lp.in_features() == width &&
                 outs[p].bf16 == obf16 && outs[p].rows == n && outs[p].cols == out);
    batched = batched && static_cast<const char*>(lp.data()) == w + p * out * width * wbytes &&
              static_cast<char*>(outs[p].data) == o0 + p * ostride;
  }
  {
    StageScope t(this, Stage::kGemm);
    const auto* b = static_cast<const char*>(GemmInput(in, p0.bf16()));
    if (batched) {
      const GemmShape shape{out, n, width, in.cols, p0.bf16(), obf16, static_cast<int32_t>(count), out * width,
                            width, ostride / obytes};
      Gemm(shape, w, b, outs[0].data, outs[0].data, 0.0f);
    } else {
      const GemmShape shape{out, n, width, in.cols, p0.bf16(), obf16};
      for (int64_t p = 0; p < count; ++p)
        Gemm(shape, static_cast<const GpuLinear&>(*parts[p]).data(), b + p * width * xbytes, outs[p].data,
             outs[p].data, 0.0f);
    }
  }
  auto tree = [&](float* dst, bool accumulate) {
    StageScope t(this, Stage::kElementwise);
    if (obf16) {
      const bf16* bufs[kernels::kMaxTreeRanks];
      for (int64_t p = 0; p < count; ++p) bufs[p] = B(outs[p]);
      kernels::SumBuffersInTreeOrder(bufs, static_cast<int>(count), n * out, dst, accumulate, 0);
    } else {
      const float* bufs[kernels::kMaxTreeRanks];
      for (int64_t p = 0; p < count; ++p) bufs[p] = F(outs[p]);
      kernels::SumBuffersInTreeOrder(bufs, static_cast<int>(count), n * out, dst, accumulate, 0);
    }
  };
  if (!grouped) return tree(F(residual), true);
  Act sum{Scratch(11, n * out * 4), n, out, false};
  tree(F(sum), false);
  AllReduceSum(sum);
  Add(sum, residual);
}

void CudaBackend::AddBias(const DeviceArray& b, Act& y) {
  StageScope t(this, Stage::kElementwise);
  if (y.bf16)
    kernels::AddBias(F(b), B(y), y.rows, y.cols, 0);
  else
    kernels::AddBias(F(b), F(y), y.rows, y.cols, 0);
}

void CudaBackend::Add(const Act& x, Act& y) {
  StageScope t(this, Stage::kElementwise);
  kernels::Add(F(x), F(y), x.rows * x.cols, 0);
}

void CudaBackend::SumTree(std::span<Act> parts) {
  if (parts.size() > static_cast<size_t>(kernels::kMaxTreeRanks)) return Backend::SumTree(parts);
  StageScope t(this, Stage::kElementwise);
  const float* bufs[kernels::kMaxTreeRanks];
  for (size_t i = 0; i < parts.size(); ++i) {
    QSWEEP_CHECK(parts[i].rows * parts[i].cols == parts[0].rows * parts[0].cols);
    bufs[i] = F(parts[i]);
  }
  kernels::SumBuffersInTreeOrder(bufs, static_cast<int>(parts.size()), parts[0].rows * parts[0].cols, F(parts[0]),
                                 false, 0);
}

void CudaBackend::Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) {
  StageScope t(this, Stage::kElementwise);
  const auto* positions = static_cast<int32_t*>(Scratch(1, 4));
  if (x.bf16)
    kernels::Rotary(B(x), x.rows, x.cols / head_dim, head_dim, F(inv_freq), positions, 0);
  else
    kernels::Rotary(F(x), x.rows, x.cols / head_dim, head_dim, F(inv_freq), positions, 0);
}

void CudaBackend::Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) {
  QSWEEP_CHECK(layout_rows_ == q.rows && head_dim <= 256);
  StageScope t(this, Stage::kAttention);
  const auto [sb, pe, bb] = LayoutOnDevice();
  const int64_t hq = q.cols / head_dim, hkv = k.cols / head_dim;
  if (!q.bf16)
    return kernels::Attention(F(q), F(k), F(v), q.rows, sb, pe, bb, hq, hkv, head_dim, F(out), 0);
  // A bf16 model's activations: tensor cores, where there is an instance for
  // the head dim and the rows allow its 16-byte copies: Hopper's wgmma, else
  // mma.sync, else the tiled kernel.
  const bool aligned = ((reinterpret_cast<uintptr_t>(q.data) | reinterpret_cast<uintptr_t>(k.data) |
                         reinterpret_cast<uintptr_t>(v.data) | reinterpret_cast<uintptr_t>(out.data)) & 15) == 0;
  if (!aligned) return kernels::Attention(B(q), B(k), B(v), q.rows, sb, pe, bb, hq, hkv, head_dim, B(out), 0);
  auto* vt = static_cast<bf16*>(Scratch(12, kernels::AttentionWgmmaScratchBytes(q.rows, hkv, head_dim)));
  if (kernels::AttentionWgmma(B(q), B(k), B(v), q.rows, sb, pe, bb, hq, hkv, head_dim, vt, B(out), 0)) return;
  if (!kernels::AttentionBf16(B(q), B(k), B(v), q.rows, sb, pe, bb, hq, hkv, head_dim, B(out), 0))
    kernels::Attention(B(q), B(k), B(v), q.rows, sb, pe, bb, hq, hkv, head_dim, B(out), 0);
}

void CudaBackend::SwiGlu(const Act& gate, const Act& up, Act& out) {
  StageScope t(this, Stage::kElementwise);
  if (gate.bf16)
    kernels::SwiGlu(B(gate), B(up), gate.rows * gate.cols, B(out), 0);
  else
    kernels::SwiGlu(F(gate), F(up), gate.rows * gate.cols, F(out), 0);
}

void CudaBackend::GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) {
  auto* d = static_cast<int64_t*>(Scratch(7, rows.size() * 8));
  QSWEEP_CUDA_CHECK(cudaMemcpy(d, rows.data(), rows.size() * 8, cudaMemcpyHostToDevice));
  StageScope t(this, Stage::kElementwise);
  kernels::GatherRows(F(x), x.cols, d, static_cast<int64_t>(rows.size()), F(out), 0);
}

void CudaBackend::SliceColumns(const Act& x, int64_t begin, Act& out) {
  StageScope t(this, Stage::kElementwise);
  if (x.bf16)
    kernels::SliceColumns(B(x), x.rows, x.cols, begin, out.cols, B(out), 0);
  else
    kernels::SliceColumns(F(x), x.rows, x.cols, begin, out.cols, F(out), 0);
}

void CudaBackend::LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end, std::span<const int32_t> targets,
                                  int k, bool full_rows, int64_t vocab_begin, LogitStats* out) {
  const int64_t n = static_cast<int64_t>(targets.size()), v = col_end - col_begin;
  QSWEEP_CHECK(k <= 64);
  auto* t = static_cast<int32_t*>(Scratch(8, n * 4));
  // The decoder asks for every vocabulary chunk of a head chunk with the same
  // targets: upload them once.
  if (!std::equal(targets.begin(), targets.end(), uploaded_targets_.begin(), uploaded_targets_.end())) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(t, targets.data(), n * 4, cudaMemcpyHostToDevice));
    uploaded_targets_.assign(targets.begin(), targets.end());
  }
  const int kk = std::max(k, 1);
  // [max, sum_exp, target] then [top-k logits] then [top-k ids], one copy back.
  const int64_t words = n * (3 + 2 * kk);
  auto* stats = static_cast<float*>(Scratch(9, words * 4));
  float *mx = stats, *se = stats + n, *tl = stats + 2 * n, *tv = stats + 3 * n;
  auto* ti = reinterpret_cast<int32_t*>(stats + 3 * n + n * kk);
  StageScope timer(this, Stage::kLogitStats);
  kernels::LogitStats(F(logits), n, logits.cols, col_begin, col_end, t, vocab_begin, k, mx, se, tl, ti, tv, 0);
  // Pinned, so that the copy runs at full speed (32 of them per 8k-token batch).
  if (host_stats_words_ < words) {
    if (host_stats_) QSWEEP_CUDA_CHECK(cudaFreeHost(host_stats_));
    QSWEEP_CUDA_CHECK(cudaMallocHost(&host_stats_, words * 4));
    host_stats_words_ = words;
  }
  QSWEEP_CUDA_CHECK(cudaMemcpy(host_stats_, stats, words * 4, cudaMemcpyDeviceToHost));
  const float* h = host_stats_;
  out->vocab_begin = vocab_begin;
  out->max.assign(h, h + n);
  out->sum_exp.assign(h + n, h + 2 * n);
  out->target_logit.assign(h + 2 * n, h + 3 * n);
  out->topk_logit.assign(h + 3 * n, h + 3 * n + n * k);
  out->topk_id.resize(n * k);
  std::memcpy(out->topk_id.data(), h + 3 * n + n * kk, n * k * 4);
  out->logits.clear();
  if (full_rows) {
    out->logits.resize(n * v);
    QSWEEP_CUDA_CHECK(cudaMemcpy2D(out->logits.data(), v * 4, F(logits) + col_begin, logits.cols * 4, v * 4, n,
                                   cudaMemcpyDeviceToHost));
  }
}

void CudaBackend::AllReduceSum(Act& x) {
  if (!group_ || group_->size() == 1) return;
  QSWEEP_CHECK(group_->size() <= kernels::kMaxTreeRanks);
  StageScope t(this, Stage::kAllReduce);
  const int64_t n = x.rows * x.cols;
  auto* all = static_cast<float*>(Scratch(10, static_cast<size_t>(n) * group_->size() * sizeof(float)));
  group_->AllGather(F(x), all, n, 0);
  kernels::SumRanksInTreeOrder(all, group_->size(), n, F(x), 0);
}

std::tuple<const int64_t*, const int64_t*, const int64_t*> CudaBackend::LayoutOnDevice() {
  return {static_cast<int64_t*>(Scratch(2, 8)), static_cast<int64_t*>(Scratch(3, 8)),
          static_cast<int64_t*>(Scratch(4, 8))};
}

std::vector<float> CudaBackend::Download(const Act& a) const {
  std::vector<float> h(a.rows * a.cols);
  if (!a.bf16) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(h.data(), a.data, h.size() * 4, cudaMemcpyDeviceToHost));
    return h;
  }
  std::vector<uint16_t> b(h.size());
  QSWEEP_CUDA_CHECK(cudaMemcpy(b.data(), a.data, b.size() * 2, cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < b.size(); ++i) h[i] = BF16ToFloat(b[i]);
  return h;
}

void CudaBackend::UploadTo(std::span<const float> values, Act& a) const {
  QSWEEP_CHECK(static_cast<int64_t>(values.size()) <= a.rows * a.cols);
  if (!a.bf16) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(a.data, values.data(), values.size() * 4, cudaMemcpyHostToDevice));
    return;
  }
  std::vector<uint16_t> b(values.size());
  for (size_t i = 0; i < b.size(); ++i) b[i] = FloatToBF16(values[i]);
  QSWEEP_CUDA_CHECK(cudaMemcpy(a.data, b.data(), b.size() * 2, cudaMemcpyHostToDevice));
}

}  // namespace qsweep
