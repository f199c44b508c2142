#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <type_traits>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "attention.cuh"
#include "attention_bf16.cuh"
#include "attention_wgmma.cuh"
#include "decoder_kernels.cuh"
#include "kv_cache.cuh"
#include "pair_logit_stats.cuh"
#include "rank_sum.cuh"
#include "lowbit/lowbit_gemm.cuh"
#include "awq.cuh"
#include "lowbit/lowbit_quantize.cuh"
#include "backend/cuda/act_quant_gemm.h"
#include "backend/cuda/cublaslt_plan.h"
#include "backend/cuda/cuda_check.h"
#include "quant/codebooks.h"
#include "quant/mma_tiled_weights.h"
#include "quant/packed_linear.h"

namespace qsweep {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kMaxTopK = 64;  // the logit-statistics kernel's limit

// A weight vector or table (fp32, or bf16 for an embedding that bf16
// holds exactly), counted among the backend's weights while it lives.
class GpuArray : public DeviceArray {
 public:
  GpuArray(void* p, int64_t n, DType dtype, std::shared_ptr<std::atomic<int64_t>> counter)
      : p_(p), n_(n), dtype_(dtype), counter_(std::move(counter)) {
    *counter_ += n_ * DTypeBytes(dtype_);
  }
  ~GpuArray() override {
    cudaFree(p_);
    *counter_ -= n_ * DTypeBytes(dtype_);
  }
  int64_t size() const override { return n_; }
  const void* data() const { return p_; }
  DType dtype() const { return dtype_; }

 private:
  void* p_;
  int64_t n_;
  DType dtype_;
  std::shared_ptr<std::atomic<int64_t>> counter_;
};

// Weights [out, in] row-major on the device at the compute precision (bf16,
// or fp32 for fp32 and fp16 models), in device storage that the parts of a
// row-parallel layer share: their weights lie one after another, which lets
// them run as one batched GEMM. Or a packed layer (kernels/lowbit).
struct PackedOnDevice {
  kernels::LowbitWeights w;
  const kernels::LowbitKernels* kernels;
  size_t code_bytes = 0, scale_bytes = 0, zero_bytes = 0;  // of the arrays w points to
};
class GpuLinear : public Linear {
 public:
  GpuLinear(std::shared_ptr<void> storage, const void* weights, int64_t out, int64_t in, DType dtype, LinearRole role)
      : storage_(std::move(storage)), p_(weights), out_(out), in_(in), dtype_(dtype), role_(role) {}
  GpuLinear(std::shared_ptr<void> storage, const PackedOnDevice& packed, LinearRole role)
      : storage_(std::move(storage)), packed_(packed), out_(packed.w.out), in_(packed.w.in), dtype_(DType::kBF16),
        role_(role) {}
  // Takes activations at `dtype` (the compute precision).
  GpuLinear(std::shared_ptr<void> storage, const ActQuantOnDevice& act, DType dtype, LinearRole role)
      : storage_(std::move(storage)), act_(act), out_(act.out), in_(act.in), dtype_(dtype), role_(role) {}
  int64_t out_features() const override { return out_; }
  int64_t in_features() const override { return in_; }
  const void* data() const { return p_; }  // null for a packed layer
  const std::optional<PackedOnDevice>& packed() const { return packed_; }
  const std::optional<ActQuantOnDevice>& act_quant() const { return act_; }
  bool bf16() const { return dtype_ == DType::kBF16; }
  DType dtype() const { return dtype_; }
  LinearRole role() const { return role_; }
  // Ties the share's place in a backend's weight count to its life.
  void CountIn(std::shared_ptr<void> token) { counted_ = std::move(token); }

 private:
  std::shared_ptr<void> storage_, counted_;
  const void* p_ = nullptr;
  std::optional<PackedOnDevice> packed_;
  std::optional<ActQuantOnDevice> act_;
  int64_t out_, in_;
  DType dtype_;
  LinearRole role_;
};

// The low-bit instances of a format (null: none, the layer is stored dense).
const kernels::LowbitKernels* LowbitKernelsOf(const WeightFormat& f) {
  if (!MmaTileable(f)) return nullptr;
  using kernels::LowbitFormat;
  switch (f.kind) {
    case WeightKind::kInt:
      return kernels::LowbitKernelsFor(f.asymmetric ? LowbitFormat::kIntAsym : LowbitFormat::kIntSym, f.bits);
    case WeightKind::kBinary: return kernels::LowbitKernelsFor(LowbitFormat::kBinary, 1);
    case WeightKind::kTernary: return kernels::LowbitKernelsFor(LowbitFormat::kTernary, 2);
    case WeightKind::kNf4: return kernels::LowbitKernelsFor(LowbitFormat::kNf4, 4);
    case WeightKind::kFp4: return kernels::LowbitKernelsFor(LowbitFormat::kFp4, 4);
    case WeightKind::kFp8: return kernels::LowbitKernelsFor(LowbitFormat::kFp8, 8);
    case WeightKind::kDense: return nullptr;
  }
  return nullptr;
}

// An activation's elements as T, checked against the type the caller expects.
template <typename T>
T* Elements(const Act& a) {
  QSWEEP_CHECK(a.dtype == (std::is_same_v<T, bf16> ? DType::kBF16 : DType::kF32));
  return static_cast<T*>(a.data);
}
float* Fp32(const Act& a) { return Elements<float>(a); }
bf16* Bf16(const Act& a) { return Elements<bf16>(a); }
const float* Fp32(const DeviceArray& a) {
  const auto& g = static_cast<const GpuArray&>(a);
  QSWEEP_CHECK(g.dtype() == DType::kF32);
  return static_cast<const float*>(g.data());
}

// Calls f with `a`'s elements typed: the kernels come in fp32 and bf16.
template <typename F>
void WithElements(const Act& a, F&& f) {
  switch (a.dtype) {
    case DType::kF32: return f(Elements<float>(a));
    case DType::kBF16: return f(Elements<bf16>(a));
    default: QSWEEP_CHECK(false && "an activation type the kernels do not take");
  }
}

// The fp32 values [out, in] a packed layer stands for: a dense layer's own
// (no copy), or the dequantized codes.
std::vector<float> DenseValues(std::unique_ptr<PackedLinear> w) {
  if (std::optional<std::vector<float>> v = w->ReleaseDenseValues()) return *std::move(v);
  std::vector<float> values(w->out_features() * w->in_features());
  w->Dequantize(values);
  return values;
}

}  // namespace

// A packed layer's allocation while it is filled: writable views of its
// arrays.
struct CudaBackend::PackedStorage {
  std::shared_ptr<void> storage;
  PackedOnDevice d{};
  uint32_t* codes = nullptr;
  uint16_t* scales = nullptr;
  uint8_t* zeros = nullptr;
  size_t code_bytes = 0, scale_bytes = 0, zero_bytes = 0;
  int64_t groups_padded = 0;
};

struct CudaBackend::GemmPlan : LtPlan {};

// Brackets one operation with CUDA events when stage timing is on.
class CudaBackend::StageScope {
 public:
  StageScope(CudaBackend* b, Stage stage) : b_(b->timing_ ? b : nullptr), stage_(stage) {
    if (b_) QSWEEP_CUDA_CHECK(cudaEventRecord(begin_ = b_->Event(), b_->stream_));
  }
  ~StageScope() {
    if (!b_) return;
    cudaEvent_t end = b_->Event();
    QSWEEP_CUDA_CHECK(cudaEventRecord(end, b_->stream_));
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

std::vector<std::pair<std::string, double>> CudaBackend::StageMillis() {
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
  std::vector<std::pair<std::string, double>> named;
  for (int i = 0; i < static_cast<int>(Stage::kCount); ++i)
    if (ms[i] > 0) named.emplace_back(StageName(static_cast<Stage>(i)), ms[i]);
  return named;
}

std::string CudaBackend::DeviceName() const {
  cudaDeviceProp p{};
  QSWEEP_CUDA_CHECK(cudaGetDeviceProperties(&p, device_));
  return p.name;
}

void CudaBackend::Synchronize() { QSWEEP_CUDA_CHECK(cudaDeviceSynchronize()); }

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int local_rank) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return absl::UnavailableError("no CUDA device");
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = local_rank % n;
  QSWEEP_CUDA_CHECK(cudaSetDevice(b->device_));
  QSWEEP_LT_CHECK(cublasLtCreate(&b->lt_));
  QSWEEP_CUDA_CHECK(cudaStreamCreate(&b->stream_));
  QSWEEP_RETURN_IF_ERROR(b->TryMalloc(&b->workspace_, b->workspace_bytes_, "the cuBLASLt workspace"));
  QSWEEP_CUDA_CHECK(cudaDeviceGetAttribute(&b->sms_, cudaDevAttrMultiProcessorCount, b->device_));
  b->act_gemm_ = std::make_unique<ActQuantGemm>(b->lt_, b->workspace_, b->workspace_bytes_, b->sms_);
  return b;
}

CudaBackend::~CudaBackend() {
  StageMillis();
  ForgetRecorded();
  for (cudaEvent_t e : free_events_) cudaEventDestroy(e);
  group_.reset();
  plans_.clear();
  act_gemm_.reset();
  calibration_.reset();
  for (Scratch* s : {&positions_, &seq_begin_, &prefix_end_, &branch_begin_, &cache_row_, &cache_begin_, &attention_partial_, &token_ids_, &head_rows_, &targets_,
                     &stats_, &all_gather_, &rank_sum_, &v_transposed_, &query_block_tables_, &dequantized_,
                     &lowbit_workspace_, &act_codes_, &act_scales_, &act_acc_, &act_unpacked_})
    cudaFree(s->data);
  if (host_stats_) cudaFreeHost(host_stats_);
  staged_.reset();
  if (workspace_) cudaFree(workspace_);
  if (lt_) cublasLtDestroy(lt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaBackend::ForgetRecorded() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

// A decode step's layers are ~15 launches each, a few microseconds apiece
// at one row: recorded once as a CUDA graph per shape, a step is then one
// launch whose kernels follow each other without the host in between.
// Stage timing (events between the operations) and tensor parallelism
// (NCCL inside) run the operations as they are.
void CudaBackend::RunRecorded(uint64_t key, const std::function<void()>& ops) {
  if (!recording_ || timing_ || group_) return ops();
  const GraphKey k{key, (cache_max_keys_ + 127) / 128, layout_rows_, batch_invariant_, scratch_generation_};
  auto it = graphs_.find(k);
  if (it == graphs_.end()) {
    if (!graphs_.empty() && graphs_.begin()->first.scratch_generation != scratch_generation_) ForgetRecorded();
    QSWEEP_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
    ops();
    cudaGraph_t graph = nullptr;
    QSWEEP_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    cudaGraphExec_t exec = nullptr;
    QSWEEP_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    QSWEEP_CUDA_CHECK(cudaGraphDestroy(graph));
    it = graphs_.emplace(k, exec).first;
  }
  QSWEEP_CUDA_CHECK(cudaGraphLaunch(it->second, stream_));
}

absl::Status CudaBackend::TryMalloc(void** p, size_t bytes, std::string_view what) const {
  const cudaError_t e = cudaMalloc(p, std::max<size_t>(bytes, 1));
  if (e == cudaSuccess) return absl::OkStatus();
  cudaGetLastError();  // out of memory is not sticky: clear it for the next call
  size_t free = 0, total = 0;
  cudaMemGetInfo(&free, &total);
  return absl::ResourceExhaustedError(absl::StrFormat(
      "out of device memory for %s: asked for %.3f GiB, %.3f GiB free of %.1f GiB on GPU %d (%s)", what,
      bytes / double(1 << 30), free / double(1 << 30), total / double(1 << 30), device_, cudaGetErrorName(e)));
}

absl::Status CudaBackend::Grow(Scratch& s, size_t bytes) {
  if (s.bytes >= bytes) return absl::OkStatus();
  if (&s == &targets_) uploaded_targets_.clear();  // the targets' copy goes with the buffer
  ++scratch_generation_;  // recordings name the old address
  if (s.data) QSWEEP_CUDA_CHECK(cudaFree(s.data));
  s.data = nullptr;
  s.bytes = 0;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&s.data, bytes, s.what));
  s.bytes = bytes;
  return absl::OkStatus();
}

void* CudaBackend::Need(Scratch& s, size_t bytes) {
  const absl::Status grown = Grow(s, bytes);
  if (!grown.ok()) {
    std::fprintf(stderr, "qsweep: %s (the memory plan did not reserve it)\n", std::string(grown.message()).c_str());
    std::abort();
  }
  return s.data;
}

// Per batch token: V transposed for the wgmma attention (bf16; its fixed
// tail of one key tile is in the plan's reserve), and with tensor
// parallelism a rank's fp32 tree sum and the all-gather of the group's; the
// layout with its KV cache rows, ids, positions and query blocks (80 bytes).
int64_t CudaBackend::ScratchBytesPerToken(const TokenWidths& w) const {
  const int64_t tp = w.tp;
  return (compute_ == DType::kBF16 ? 2 * w.kv : 0) + (tp > 1 ? 4 * (tp + 1) * w.hidden : 0) + 80 +
         ActQuantBytesPerToken(w);
}

// An activation-quantized model's per-token codes and scale, and its int32
// or fp32 product before scaling: for the widest input and output.
int64_t CudaBackend::ActQuantBytesPerToken(const TokenWidths& w) const {
  if (!act_quant_layers_) return 0;
  const int64_t widest = PadTo16(std::max({w.hidden, w.q, w.kv, w.intermediate}));
  return widest + 4 + 4 * widest;
}

absl::Status CudaBackend::ReserveScratch(int64_t tokens, int64_t head_rows, const TokenWidths& w) {
  widths_ = w;
  const size_t n = tokens;
  QSWEEP_RETURN_IF_ERROR(Grow(positions_, n * 4));
  for (Scratch* s : {&seq_begin_, &prefix_end_, &branch_begin_, &cache_row_, &cache_begin_})
    QSWEEP_RETURN_IF_ERROR(Grow(*s, n * 8));
  QSWEEP_RETURN_IF_ERROR(Grow(token_ids_, n * 4));
  QSWEEP_RETURN_IF_ERROR(Grow(head_rows_, head_rows * 8));
  QSWEEP_RETURN_IF_ERROR(Grow(targets_, head_rows * 4));
  QSWEEP_RETURN_IF_ERROR(Grow(stats_, head_rows * (3 + 2 * kMaxTopK) * 4));
  if (w.tp > 1) {
    QSWEEP_RETURN_IF_ERROR(Grow(all_gather_, n * w.hidden * w.tp * 4));
    QSWEEP_RETURN_IF_ERROR(Grow(rank_sum_, n * w.hidden * 4));
  }
  if (compute_ == DType::kBF16 && w.head_dim > 0)
    QSWEEP_RETURN_IF_ERROR(
        Grow(v_transposed_, kernels::AttentionWgmmaScratchBytes(tokens, w.kv / w.head_dim, w.head_dim)));
  if (act_quant_layers_) {
    const int64_t widest = PadTo16(std::max({w.hidden, w.q, w.kv, w.intermediate}));
    QSWEEP_RETURN_IF_ERROR(Grow(act_codes_, n * widest));
    QSWEEP_RETURN_IF_ERROR(Grow(act_scales_, n * 4));
    QSWEEP_RETURN_IF_ERROR(Grow(act_acc_, n * widest * 4));
  }
  return absl::OkStatus();
}

int64_t CudaBackend::DeviceBytesInUse() const {
  size_t free = 0, total = 0;
  QSWEEP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(total - free);
}

int64_t CudaBackend::FreeMemoryBytes() const {
  size_t free = 0, total = 0;
  QSWEEP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(free);
}

void CudaBackend::SetModelPrecision(DType precision) {
  compute_ = precision == DType::kBF16 ? DType::kBF16 : DType::kF32;
}

absl::StatusOr<Act> CudaBackend::Alloc(int64_t rows, int64_t cols, ActRole role, std::string_view what) {
  return AllocAs(rows, cols, role == ActRole::kCompute ? compute_ : DType::kF32, what);
}

absl::StatusOr<Act> CudaBackend::AllocAs(int64_t rows, int64_t cols, DType dtype, std::string_view what) {
  QSWEEP_CHECK(dtype == DType::kF32 || dtype == DType::kBF16);
  Act a{nullptr, rows, cols, dtype};
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&a.data, a.bytes(), what));
  QSWEEP_CUDA_CHECK(cudaMemset(a.data, 0, std::max<int64_t>(1, a.bytes())));
  return a;
}

void CudaBackend::Free(Act& a) {
  cudaFree(a.data);
  a = Act{};
}

absl::StatusOr<std::unique_ptr<DeviceArray>> CudaBackend::Upload(std::span<const float> values) {
  void* p = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&p, values.size() * sizeof(float), "a weight vector"));
  QSWEEP_CUDA_CHECK(cudaMemcpy(p, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice));
  return std::make_unique<GpuArray>(p, static_cast<int64_t>(values.size()), DType::kF32, weight_bytes_);
}

absl::StatusOr<std::unique_ptr<DeviceArray>> CudaBackend::UploadEmbedding(std::span<const float> values) {
  if (compute_ != DType::kBF16) return Upload(values);
  std::vector<uint16_t> bits(values.size());
  bool exact = true;
#pragma omp parallel for reduction(&& : exact) schedule(static)
  for (size_t i = 0; i < values.size(); ++i) {
    bits[i] = FloatToBF16(values[i]);
    exact = exact && BF16ToFloat(bits[i]) == values[i];
  }
  if (!exact) return Upload(values);
  void* p = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&p, bits.size() * 2, "the embedding table"));
  QSWEEP_CUDA_CHECK(cudaMemcpy(p, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
  return std::make_unique<GpuArray>(p, static_cast<int64_t>(values.size()), DType::kBF16, weight_bytes_);
}

absl::StatusOr<std::unique_ptr<Linear>> CudaBackend::CreateLinear(std::string_view name, LinearRole role,
                                                                  std::unique_ptr<PackedLinear> w) {
  std::vector<std::unique_ptr<PackedLinear>> one;
  one.push_back(std::move(w));
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> parts, UploadParts(name, role, std::move(one)));
  return std::move(parts[0]);
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::CreateLinearParts(
    std::string_view name, std::vector<std::unique_ptr<PackedLinear>> parts) {
  return UploadParts(name, LinearRole::kProjection, std::move(parts));
}

// The weights at the compute precision, every part [out, width] one after
// another in one allocation. Packed formats are dequantized (no low-bit
// kernels yet); activation-quantized ones need the int8 / fp8 paths.
absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::UploadParts(
    std::string_view name, LinearRole role, std::vector<std::unique_ptr<PackedLinear>> parts) {
  QSWEEP_CHECK(!parts.empty());
  const int64_t out = parts[0]->out_features(), width = parts[0]->in_features();
  for (const auto& p : parts) QSWEEP_CHECK(p->out_features() == out && p->in_features() == width);
  const int64_t count = static_cast<int64_t>(parts.size());
  if (parts[0]->format().act != ActKind::kNone) {
    std::vector<std::unique_ptr<Linear>> linears;
    for (const auto& p : parts) {
      QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Linear> l, UploadActQuant(name, role, *p));
      linears.push_back(std::move(l));
    }
    return linears;
  }
  if (compute_ == DType::kBF16 && LowbitKernelsOf(parts[0]->format()) && parts[0]->quantized_weights()) {
    // Packed: each part its own allocation; a product over many rows
    // expands the parts into consecutive slots of dequantized_.
    std::vector<std::unique_ptr<Linear>> linears;
    for (const auto& p : parts) {
      QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Linear> l, UploadPacked(name, role, *p));
      linears.push_back(std::move(l));
    }
    QSWEEP_RETURN_IF_ERROR(ReservePackedScratch(linears));
    return linears;
  }
  const int elem = DTypeBytes(compute_);
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> linears, AllocateDense(name, role, count, out, width));
  for (int64_t i = 0; i < count; ++i) {
    const std::vector<float> w = DenseValues(std::move(parts[i]));
    void* dst = const_cast<void*>(static_cast<const GpuLinear&>(*linears[i]).data());
    if (compute_ == DType::kBF16) {
      std::vector<uint16_t> h(w.size());
#pragma omp parallel for schedule(static) if (w.size() > (1 << 20))
      for (size_t j = 0; j < w.size(); ++j) h[j] = FloatToBF16(w[j]);
      QSWEEP_CUDA_CHECK(cudaMemcpy(dst, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    } else {
      QSWEEP_CUDA_CHECK(cudaMemcpy(dst, w.data(), w.size() * elem, cudaMemcpyHostToDevice));
    }
  }
  return linears;
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::AllocateDense(std::string_view name,
                                                                                LinearRole role, int64_t count,
                                                                                int64_t out, int64_t width) {
  const int elem = DTypeBytes(compute_);
  const int64_t part = out * width, bytes = count * part * elem;
  void* p = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&p, bytes, absl::StrFormat("the weights of %s", name)));
  *weight_bytes_ += bytes;
  std::shared_ptr<void> storage(p, [counter = weight_bytes_, bytes](void* q) {
    cudaFree(q);
    *counter -= bytes;
  });
  std::vector<std::unique_ptr<Linear>> linears;
  for (int64_t i = 0; i < count; ++i)
    linears.push_back(std::make_unique<GpuLinear>(storage, static_cast<const char*>(p) + i * part * elem, out, width,
                                                  compute_, role));
  return linears;
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::CreateDenseBf16(std::string_view name,
                                                                                  LinearRole role, int64_t count,
                                                                                  int64_t out, int64_t width,
                                                                                  const Bf16Rows& rows) {
  if (compute_ != DType::kBF16) return Backend::CreateDenseBf16(name, role, count, out, width, rows);
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> linears, AllocateDense(name, role, count, out, width));
  if (!staged_) staged_ = std::make_unique<StagedUpload>(stream_);
  for (int64_t p = 0; p < count; ++p) {
    void* dst = const_cast<void*>(static_cast<const GpuLinear&>(*linears[p]).data());
    QSWEEP_RETURN_IF_ERROR(staged_->Copy(dst, out, width * 2, [&](int64_t begin, int64_t end, void* host) {
      return rows(p, begin, end, std::span<uint16_t>(static_cast<uint16_t*>(host), (end - begin) * width));
    }));
  }
  return linears;
}

// Scratch every packed layer's products need: its parts expanded to bf16
// for many rows, the low-bit kernel's partial sums.
absl::Status CudaBackend::ReservePackedScratch(std::span<const std::unique_ptr<Linear>> parts) {
  const auto& w = *static_cast<const GpuLinear&>(*parts[0]).packed();
  const int64_t count = static_cast<int64_t>(parts.size());
  QSWEEP_RETURN_IF_ERROR(Grow(dequantized_, count * w.w.out * w.w.in * 2));  // grow-only: the largest layer's
  const size_t before = lowbit_workspace_.bytes;
  QSWEEP_RETURN_IF_ERROR(Grow(lowbit_workspace_, kernels::LowbitWorkspaceBytes(w.w.out_padded, w.w.in_padded, sms_)));
  if (lowbit_workspace_.bytes != before)
    QSWEEP_CUDA_CHECK(cudaMemset(lowbit_workspace_.data, 0, lowbit_workspace_.bytes));  // the kernels' counters
  return absl::OkStatus();
}

// One allocation for a layer's codes, scales and zeros in the kernels'
// tiled layout (mma_tiled_weights.h), each array 256-byte aligned; the
// layer points into it. Filled by the caller.
absl::StatusOr<CudaBackend::PackedStorage> CudaBackend::AllocatePacked(std::string_view name,
                                                                       const WeightFormat& f, int64_t out,
                                                                       int64_t in) {
  PackedStorage s;
  const int64_t group = f.group > 0 ? f.group : in;
  s.d.kernels = LowbitKernelsOf(f);
  QSWEEP_CHECK(s.d.kernels);
  s.d.w.out = out, s.d.w.in = in;
  s.d.w.out_padded = (out + MmaTiledWeights::kRowTile - 1) / MmaTiledWeights::kRowTile * MmaTiledWeights::kRowTile;
  s.d.w.in_padded = (in + MmaTiledWeights::kChunk - 1) / MmaTiledWeights::kChunk * MmaTiledWeights::kChunk;
  s.groups_padded = (s.d.w.in_padded + group - 1) / group;
  s.d.w.group_shift = f.group > 0 ? std::countr_zero(static_cast<uint64_t>(f.group)) : -1;
  if (f.kind == WeightKind::kNf4 || f.kind == WeightKind::kFp4)
    std::copy_n(f.kind == WeightKind::kNf4 ? kNf4Table : kFp4Table, 16, s.d.w.table);
  const size_t code_bytes = s.d.w.out_padded / 16 * (s.d.w.in_padded / 256) * 128 * f.bits * 4;
  const size_t scale_bytes = s.groups_padded * s.d.w.out_padded * 2;
  const size_t zero_bytes = f.asymmetric ? s.groups_padded * s.d.w.out_padded : 0;
  const size_t scale_at = (code_bytes + 255) / 256 * 256, zero_at = scale_at + (scale_bytes + 255) / 256 * 256;
  const size_t total = zero_at + zero_bytes;
  void* p = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&p, total, absl::StrFormat("the packed weights of %s", name)));
  *weight_bytes_ += static_cast<int64_t>(total);
  s.storage = std::shared_ptr<void>(p, [counter = weight_bytes_, total](void* q) {
    cudaFree(q);
    *counter -= static_cast<int64_t>(total);
  });
  char* base = static_cast<char*>(p);
  s.codes = reinterpret_cast<uint32_t*>(base);
  s.scales = reinterpret_cast<uint16_t*>(base + scale_at);
  s.zeros = zero_bytes ? reinterpret_cast<uint8_t*>(base + zero_at) : nullptr;
  s.code_bytes = s.d.code_bytes = code_bytes, s.scale_bytes = s.d.scale_bytes = scale_bytes;
  s.zero_bytes = s.d.zero_bytes = zero_bytes;
  s.d.w.codes = s.codes, s.d.w.scales = s.scales, s.d.w.zeros = s.zeros;
  return s;
}

absl::StatusOr<std::unique_ptr<Linear>> CudaBackend::UploadPacked(std::string_view name, LinearRole role,
                                                                  const PackedLinear& w) {
  const MmaTiledWeights t = TileForMma(*w.quantized_weights());
  QSWEEP_ASSIGN_OR_RETURN(PackedStorage s, AllocatePacked(name, t.format, t.out, t.in));
  QSWEEP_CHECK(s.code_bytes == t.codes.size() * 4 && s.scale_bytes == t.scales.size() * 2 &&
               s.zero_bytes == t.zeros.size());
  QSWEEP_CUDA_CHECK(cudaMemcpy(s.codes, t.codes.data(), s.code_bytes, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(s.scales, t.scales.data(), s.scale_bytes, cudaMemcpyHostToDevice));
  if (s.zeros) QSWEEP_CUDA_CHECK(cudaMemcpy(s.zeros, t.zeros.data(), s.zero_bytes, cudaMemcpyHostToDevice));
  return std::make_unique<GpuLinear>(std::move(s.storage), s.d, role);
}

std::optional<CudaBackend::TiledArrays> CudaBackend::DownloadTiled(const Linear& l) {
  const auto& g = static_cast<const GpuLinear&>(l);
  if (!g.packed()) return std::nullopt;
  const PackedOnDevice& d = *g.packed();
  TiledArrays t;
  t.codes.resize(d.code_bytes / 4);
  t.scales.resize(d.scale_bytes / 2);
  t.zeros.resize(d.zero_bytes);
  QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  QSWEEP_CUDA_CHECK(cudaMemcpy(t.codes.data(), d.w.codes, d.code_bytes, cudaMemcpyDeviceToHost));
  QSWEEP_CUDA_CHECK(cudaMemcpy(t.scales.data(), d.w.scales, d.scale_bytes, cudaMemcpyDeviceToHost));
  if (d.zero_bytes) QSWEEP_CUDA_CHECK(cudaMemcpy(t.zeros.data(), d.w.zeros, d.zero_bytes, cudaMemcpyDeviceToHost));
  return t;
}

std::unique_ptr<Linear> CudaBackend::ShareLinear(const Linear& l, bool counted) {
  const auto& g = static_cast<const GpuLinear&>(l);
  QSWEEP_CHECK(g.data());
  auto share = std::make_unique<GpuLinear>(g);
  share->CountIn(nullptr);
  if (counted) {
    const int64_t bytes = g.out_features() * g.in_features() * DTypeBytes(g.dtype());
    *weight_bytes_ += bytes;
    share->CountIn(std::shared_ptr<void>(nullptr, [counter = weight_bytes_, bytes](void*) { *counter -= bytes; }));
  }
  return share;
}

bool CudaBackend::QuantizesOnDevice(const WeightFormat& f) const {
  return compute_ == DType::kBF16 && LowbitKernelsOf(f) != nullptr;
}

static kernels::LowbitQuantizeFormat DeviceQuantizeFormat(const WeightFormat& f) {
  using kernels::LowbitFormat;
  kernels::LowbitQuantizeFormat q;
  q.bits = f.bits;
  q.group = f.group > 0 ? f.group : 0;
  switch (f.kind) {
    case WeightKind::kInt: q.kind = f.asymmetric ? LowbitFormat::kIntAsym : LowbitFormat::kIntSym; break;
    case WeightKind::kBinary: q.kind = LowbitFormat::kBinary; break;
    case WeightKind::kTernary: q.kind = LowbitFormat::kTernary; break;
    case WeightKind::kNf4: q.kind = LowbitFormat::kNf4; break;
    case WeightKind::kFp4: q.kind = LowbitFormat::kFp4; break;
    case WeightKind::kFp8: q.kind = LowbitFormat::kFp8; break;
    case WeightKind::kDense: QSWEEP_CHECK(false);
  }
  if (f.kind == WeightKind::kNf4 || f.kind == WeightKind::kFp4)
    std::copy_n(f.kind == WeightKind::kNf4 ? kNf4Table : kFp4Table, 16, q.table);
  return q;
}

// The grids of the whole weight in a temporary buffer, then each part
// written into its own tiled allocation (kernels/lowbit/lowbit_quantize.cuh).
// A dense layer's bf16 parts as the device quantizer reads them.
static kernels::DenseParts DenseSource(std::span<const std::unique_ptr<Linear>> dense) {
  QSWEEP_CHECK(!dense.empty() && dense.size() <= kernels::kMaxDenseParts);
  kernels::DenseParts src;
  src.count = static_cast<int>(dense.size());
  const int64_t out = dense[0]->out_features();
  src.width = dense[0]->in_features();
  for (int p = 0; p < src.count; ++p) {
    const auto& g = static_cast<const GpuLinear&>(*dense[p]);
    QSWEEP_CHECK(g.data() && g.bf16() && g.out_features() == out && g.in_features() == src.width);
    src.part[p] = static_cast<const bf16*>(g.data());
  }
  return src;
}

// Host floats copied into `at` (device memory of at least their bytes).
static float* CopyFloats(std::span<const float> v, char* at, cudaStream_t stream) {
  if (v.empty()) return nullptr;
  QSWEEP_CUDA_CHECK(cudaMemcpyAsync(at, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  return reinterpret_cast<float*>(at);
}
static int64_t Align256(int64_t bytes) { return (bytes + 255) / 256 * 256; }

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CudaBackend::QuantizeLinearParts(
    std::string_view name, LinearRole role, std::span<const std::unique_ptr<Linear>> dense,
    const WeightFormat& format, const AwqTransform& transform) {
  QSWEEP_CHECK(QuantizesOnDevice(format));
  kernels::DenseParts src = DenseSource(dense);
  const int64_t out = dense[0]->out_features();
  if (src.count > 1 && format.group > 0 && src.width % format.group)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d parts of %d columns do not cut %s's groups", name,
                                                      src.count, src.width, format.Describe()));
  const kernels::LowbitQuantizeFormat f = DeviceQuantizeFormat(format);
  const int64_t in = src.count * src.width;
  const int64_t grid_bytes = kernels::LowbitGridBytes(f, out, in);
  QSWEEP_CHECK(transform.column_scales.empty() || static_cast<int64_t>(transform.column_scales.size()) == in);
  void* scratch = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&scratch,
                                   grid_bytes + Align256(transform.column_scales.size() * 4) + transform.clip.size() * 4,
                                   absl::StrFormat("the quantization grids of %s", name)));
  const kernels::LowbitGrids grids = kernels::LowbitGridsIn(scratch, f, out, in);
  QSWEEP_CHECK(transform.clip.empty() || static_cast<int64_t>(transform.clip.size()) == out * grids.groups);
  char* extra = static_cast<char*>(scratch) + grid_bytes;
  src.column_scale = CopyFloats(transform.column_scales, extra, stream_);
  src.clip = CopyFloats(transform.clip, extra + Align256(transform.column_scales.size() * 4), stream_);
  kernels::LowbitQuantizeGrids(f, src, out, grids, stream_);
  std::vector<std::unique_ptr<Linear>> linears;
  absl::Status status;
  for (int p = 0; p < src.count && status.ok(); ++p) {
    absl::StatusOr<PackedStorage> s = AllocatePacked(name, format, out, src.width);
    if (!s.ok()) {
      status = s.status();
      break;
    }
    kernels::LowbitQuantizePart(f, src, out, p, grids, s->codes, s->scales, s->zeros, s->d.w.out_padded,
                                s->d.w.in_padded, s->groups_padded, stream_);
    linears.push_back(std::make_unique<GpuLinear>(std::move(s->storage), s->d, role));
  }
  QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  QSWEEP_CUDA_CHECK(cudaFree(scratch));
  QSWEEP_RETURN_IF_ERROR(status);
  QSWEEP_RETURN_IF_ERROR(ReservePackedScratch(linears));
  return linears;
}

bool CudaBackend::AwqOnDevice(const WeightFormat& f) const {
  return QuantizesOnDevice(f) && f.kind == WeightKind::kInt && f.group > 0 &&
         f.group <= kernels::kAwqClipMaxGroup;
}

// The grids and the scales in one temporary buffer, the candidate written
// into a fresh dense layer.
absl::StatusOr<std::unique_ptr<Linear>> CudaBackend::AwqCandidate(std::string_view name, const Linear& dense,
                                                                  const WeightFormat& format,
                                                                  std::span<const float> s) {
  QSWEEP_CHECK(AwqOnDevice(format) && static_cast<int64_t>(s.size()) == dense.in_features());
  const std::unique_ptr<Linear> share = ShareLinear(dense, false);
  kernels::DenseParts src = DenseSource(std::span<const std::unique_ptr<Linear>>(&share, 1));
  const int64_t out = dense.out_features(), in = dense.in_features();
  const kernels::LowbitQuantizeFormat f = DeviceQuantizeFormat(format);
  const int64_t grid_bytes = kernels::LowbitGridBytes(f, out, in);
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> made,
                          AllocateDense(name, LinearRole::kProjection, 1, out, in));
  void* scratch = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&scratch, grid_bytes + in * 4,
                                   absl::StrFormat("the AWQ candidate grids of %s", name)));
  src.column_scale = CopyFloats(s, static_cast<char*>(scratch) + grid_bytes, stream_);
  auto* dst = static_cast<bf16*>(const_cast<void*>(static_cast<const GpuLinear&>(*made[0]).data()));
  kernels::LowbitFakeQuantize(f, src, out, kernels::LowbitGridsIn(scratch, f, out, in), dst, stream_);
  QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  QSWEEP_CUDA_CHECK(cudaFree(scratch));
  return std::move(made[0]);
}

absl::StatusOr<std::vector<float>> CudaBackend::AwqClipSearch(std::string_view name,
                                                              std::span<const std::unique_ptr<Linear>> dense,
                                                              const WeightFormat& format, std::span<const float> s,
                                                              const Act& x, int n_grid, double max_shrink) {
  QSWEEP_CHECK(AwqOnDevice(format));
  kernels::AwqClipProblem p;
  p.w = DenseSource(dense);
  p.out = dense[0]->out_features();
  p.in = p.w.count * p.w.width;
  p.group = std::min<int64_t>(format.group, p.in);
  if (p.w.count > 1 && p.w.width % p.group)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d parts of %d columns do not cut %s's groups", name,
                                                      p.w.count, p.w.width, format.Describe()));
  QSWEEP_CHECK(static_cast<int64_t>(s.size()) == p.in && x.cols == p.in);
  p.steps = static_cast<int>(max_shrink * n_grid);
  QSWEEP_CHECK(p.steps >= 1 && p.steps <= kernels::kAwqClipMaxSteps);
  p.n_grid = n_grid;
  p.x = x.data;
  p.x_bf16 = x.dtype == DType::kBF16;
  QSWEEP_CHECK(p.x_bf16 || x.dtype == DType::kF32);
  p.rows = x.rows;
  p.bits = format.bits;
  p.asymmetric = format.asymmetric;
  const int64_t groups = (p.in + p.group - 1) / p.group;
  void* scratch = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&scratch, Align256(p.in * 4) + p.out * groups * 4,
                                   absl::StrFormat("the AWQ clip search of %s", name)));
  p.s = CopyFloats(s, static_cast<char*>(scratch), stream_);
  float* kept = reinterpret_cast<float*>(static_cast<char*>(scratch) + Align256(p.in * 4));
  kernels::AwqClipSearch(p, kept, stream_);
  std::vector<float> out(p.out * groups);
  QSWEEP_CUDA_CHECK(cudaMemcpyAsync(out.data(), kept, out.size() * 4, cudaMemcpyDeviceToHost, stream_));
  QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  QSWEEP_CUDA_CHECK(cudaFree(scratch));
  return out;
}

// Codes padded to [out_padded, in_padded] with zeros (4-bit integers two per
// byte), fp32 scales padded with zeros, in one allocation.
absl::StatusOr<std::unique_ptr<Linear>> CudaBackend::UploadActQuant(std::string_view name, LinearRole role,
                                                                    const PackedLinear& w) {
  const WeightFormat& f = w.format();
  const PackedLinear::ActQuantWeights q = w.act_quant_weights();
  const int64_t out = w.out_features(), in = w.in_features();
  QSWEEP_CHECK(static_cast<int64_t>(q.codes.size()) == out * in && static_cast<int64_t>(q.scales.size()) == out);
  ActQuantOnDevice d;
  d.act = f.act == ActKind::kFp8 ? kernels::ActCode::kFp8
          : f.act == ActKind::kInt4 ? kernels::ActCode::kInt4
                                    : kernels::ActCode::kInt8;
  d.fp8 = f.act == ActKind::kFp8;
  d.nibbles = !d.fp8 && f.bits <= 4;
  d.out = out, d.in = in, d.out_padded = PadTo16(out), d.in_padded = PadTo16(in);
  const int64_t code_bytes = d.out_padded * d.in_padded / (d.nibbles ? 2 : 1);
  std::vector<int8_t> codes(code_bytes, 0);
#pragma omp parallel for schedule(static)  // rows own whole bytes: in_padded is even
  for (int64_t r = 0; r < out; ++r)
    for (int64_t j = 0; j < in; ++j) {
      const int8_t c = q.codes[r * in + j];
      if (!d.nibbles) {
        codes[r * d.in_padded + j] = c;
      } else {
        auto& b = reinterpret_cast<uint8_t&>(codes[(r * d.in_padded + j) / 2]);
        b |= static_cast<uint8_t>((c & 0xf) << (j % 2 ? 4 : 0));
      }
    }
  std::vector<float> scales(d.out_padded, 0.0f);
  std::copy(q.scales.begin(), q.scales.end(), scales.begin());
  const size_t scale_at = (code_bytes + 255) / 256 * 256, total = scale_at + scales.size() * 4;
  void* p = nullptr;
  QSWEEP_RETURN_IF_ERROR(TryMalloc(&p, total, absl::StrFormat("the quantized weights of %s", name)));
  *weight_bytes_ += static_cast<int64_t>(total);
  std::shared_ptr<void> storage(p, [counter = weight_bytes_, total](void* q) {
    cudaFree(q);
    *counter -= static_cast<int64_t>(total);
  });
  char* base = static_cast<char*>(p);
  QSWEEP_CUDA_CHECK(cudaMemcpy(base, codes.data(), code_bytes, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(base + scale_at, scales.data(), scales.size() * 4, cudaMemcpyHostToDevice));
  d.codes = reinterpret_cast<const int8_t*>(base);
  d.scales = reinterpret_cast<const float*>(base + scale_at);
  if (d.nibbles) QSWEEP_RETURN_IF_ERROR(Grow(act_unpacked_, d.out_padded * d.in_padded));  // the largest layer's
  act_quant_layers_ = true;
  return std::make_unique<GpuLinear>(std::move(storage), d, compute_, role);
}

bool CudaBackend::ActQuantProduct(const Linear& l, const void* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
                                  DType ytype, bool accumulate) {
  const auto& g = static_cast<const GpuLinear&>(l);
  if (!g.act_quant()) return false;
  const ActQuantOnDevice& w = *g.act_quant();
  QSWEEP_CHECK(!accumulate || ytype == DType::kF32);
  using kernels::ScaledOut;
  const ScaledOut out = accumulate ? ScaledOut::kAddF32 : ytype == DType::kBF16 ? ScaledOut::kBf16 : ScaledOut::kF32;
  const ActQuantGemm::Buffers b{
      static_cast<int8_t*>(Need(act_codes_, rows * w.in_padded)), static_cast<float*>(Need(act_scales_, rows * 4)),
      Need(act_acc_, ActQuantGemm::AccBytes(w, rows)),
      w.nibbles ? static_cast<int8_t*>(Need(act_unpacked_, w.out_padded * w.in_padded)) : nullptr};
  act_gemm_->Run(w, x, g.dtype(), rows, ldx, y, ldy, out, b, !batch_invariant_, stream_);
  return true;
}

const void* CudaBackend::DenseWeights(const Linear& l, int64_t slot) {
  const auto& g = static_cast<const GpuLinear&>(l);
  QSWEEP_CHECK(!g.act_quant());
  if (!g.packed()) return g.data();
  const int64_t bytes = g.out_features() * g.in_features() * 2;
  auto* dst = reinterpret_cast<bf16*>(static_cast<char*>(Need(dequantized_, (slot + 1) * bytes)) + slot * bytes);
  g.packed()->kernels->dequantize(g.packed()->w, dst, stream_);
  return dst;
}

bool CudaBackend::TakesLowbitGemm(const Linear& l, int64_t rows) const {
  const auto& g = static_cast<const GpuLinear&>(l);
  // A decode step (its layout reads the KV cache) has at most
  // kMaxDecodeRows rows, where the low-bit kernel's result for a row does
  // not depend on the others: it keeps batch invariance there. Prefill and
  // scoring, whose row counts range past it, keep the dequantized product.
  static_assert(kMaxDecodeRows <= kernels::kLowbitMaxRows);
  return g.packed() && !(batch_invariant_ && !cache_reads_set_) && rows <= kernels::kLowbitMaxRows &&
         g.in_features() % 8 == 0;
}

bool CudaBackend::MatmulKeepsFp32Weights(const Linear& l, int64_t rows) const {
  const auto& g = static_cast<const GpuLinear&>(l);
  if (!g.packed()) return true;
  return TakesLowbitGemm(l, rows) && kernels::LowbitGemmKeepsFp32Weights(*g.packed()->kernels, g.packed()->w);
}

bool CudaBackend::LowbitProduct(const Linear& l, const void* x, int64_t rows, int64_t ldx, void* y, int64_t ldy,
                                DType ytype, bool accumulate) {
  const auto& g = static_cast<const GpuLinear&>(l);
  if (!TakesLowbitGemm(l, rows) || ldx % 8 || reinterpret_cast<uintptr_t>(x) % 16) return false;
  using kernels::LowbitOut;
  const LowbitOut mode = accumulate ? LowbitOut::kAddF32 : ytype == DType::kBF16 ? LowbitOut::kBf16 : LowbitOut::kF32;
  QSWEEP_CHECK(!accumulate || ytype == DType::kF32);
  g.packed()->kernels->gemm(g.packed()->w, static_cast<const bf16*>(x), rows, ldx, y, ldy, mode,
                            lowbit_workspace_.data, sms_, stream_);
  return true;
}

void CudaBackend::SetLayout(const SequenceLayout& l) {
  layout_rows_ = l.rows();
  // What the tiled attention kernel relies on: keys of row r lie in
  // [seq_begin[r], r], and seq_begin never decreases (TokenBatch packs so).
  for (int64_t r = 0; r < l.rows(); ++r)
    QSWEEP_CHECK(l.seq_begin[r] <= l.prefix_end[r] && l.prefix_end[r] <= l.branch_begin[r] &&
                 l.branch_begin[r] <= r && (r == 0 || l.seq_begin[r - 1] <= l.seq_begin[r]));
  const size_t n = l.positions.size();
  QSWEEP_CUDA_CHECK(cudaMemcpy(Need(positions_, n * 4), l.positions.data(), n * 4, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Need(seq_begin_, n * 8), l.seq_begin.data(), n * 8, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Need(prefix_end_, n * 8), l.prefix_end.data(), n * 8, cudaMemcpyHostToDevice));
  QSWEEP_CUDA_CHECK(cudaMemcpy(Need(branch_begin_, n * 8), l.branch_begin.data(), n * 8, cudaMemcpyHostToDevice));
  cache_rows_set_ = l.writes_cache();
  cache_reads_set_ = l.reads_cache();
  if (cache_rows_set_) {
    QSWEEP_CHECK(l.cache_row.size() == n);
    QSWEEP_CUDA_CHECK(cudaMemcpy(Need(cache_row_, n * 8), l.cache_row.data(), n * 8, cudaMemcpyHostToDevice));
  }
  if (cache_reads_set_) {
    QSWEEP_CHECK(l.cache_begin.size() == n && cache_rows_set_);
    cache_max_keys_ = 0;
    for (size_t r = 0; r < n; ++r) {
      QSWEEP_CHECK(0 <= l.cache_begin[r] && l.cache_begin[r] <= l.cache_row[r]);
      cache_max_keys_ = std::max(cache_max_keys_, l.cache_row[r] - l.cache_begin[r] + 1);
    }
    QSWEEP_CUDA_CHECK(cudaMemcpy(Need(cache_begin_, n * 8), l.cache_begin.data(), n * 8, cudaMemcpyHostToDevice));
    // The decode attention's splits, grown here rather than inside a
    // recording (RunRecorded), which must not allocate.
    if (widths_.head_dim > 0)
      Need(attention_partial_, 4 * kernels::CachedAttentionPartialFloats(static_cast<int64_t>(n), widths_.q / widths_.head_dim,
                                                                          widths_.head_dim, cache_max_keys_));
  }
  // Every attention kernel's blocks of query rows, one table per height,
  // uploaded together.
  std::vector<kernels::QueryBlock> all;
  int64_t offsets[kernels::QueryBlocks::kHeights];
  for (int i = 0; i < kernels::QueryBlocks::kHeights; ++i) {
    const std::vector<kernels::QueryBlock> b = kernels::SequenceQueryBlocks(l.seq_begin, 16 << i);
    offsets[i] = static_cast<int64_t>(all.size());
    query_blocks_.count[i] = static_cast<int64_t>(b.size());
    all.insert(all.end(), b.begin(), b.end());
  }
  auto* table = static_cast<kernels::QueryBlock*>(Need(query_block_tables_, (all.size() + 1) * sizeof(all[0])));
  if (!all.empty())
    QSWEEP_CUDA_CHECK(cudaMemcpy(table, all.data(), all.size() * sizeof(all[0]), cudaMemcpyHostToDevice));
  for (int i = 0; i < kernels::QueryBlocks::kHeights; ++i) query_blocks_.table[i] = table + offsets[i];
}

void CudaBackend::Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids, Act& out) {
  auto* d = static_cast<int32_t*>(Need(token_ids_, ids.size() * 4));
  QSWEEP_CUDA_CHECK(cudaMemcpy(d, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
  StageScope t(this, Stage::kElementwise);
  const auto& g = static_cast<const GpuArray&>(table);
  if (g.dtype() == DType::kBF16)
    kernels::Embed(static_cast<const bf16*>(g.data()), dim, d, static_cast<int64_t>(ids.size()), Fp32(out), stream_);
  else
    kernels::Embed(Fp32(table), dim, d, static_cast<int64_t>(ids.size()), Fp32(out), stream_);
}

void CudaBackend::RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) {
  StageScope t(this, Stage::kNorm);
  WithElements(out, [&](auto* o) { kernels::RmsNorm(Fp32(x), Fp32(w), x.rows, x.cols, eps, o, stream_); });
}

// Column-major view: C[m=out, n=rows] = op(A)[out, in] · B[in, rows], with A
// the row-major weight [out, in] read transposed and B the row-major input
// (row stride ldb); `batch` such products at the given element strides.
void CudaBackend::DescribeGemm(const GemmShape& g, GemmPlan* p) {
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
}

// Batch invariance: a row's product must not depend on how many rows the
// batch has. cuBLASLt's heuristic picks kernels (tile shapes, K steps) by
// all three dimensions, so the algorithm is chosen once per shape without
// its row count, at kAlgoRows rows, and every row count runs it. With no
// split-K a kernel sums each output over k in one order whatever the grid,
// so the rows of a product are the same bits in a batch of 1 or of 65536.
const cublasLtMatmulAlgo_t& CudaBackend::AlgoFor(const GemmShape& g) {
  constexpr int64_t kAlgoRows = 8192;
  GemmShape key = g;
  if (!g.per_rows) {
    key.n = kAlgoRows;
    key.stride_c = g.batch > 1 ? g.m * kAlgoRows : 0;
  }
  auto& slot = algos_[key];
  if (slot) return *slot;
  GemmPlan canonical;
  DescribeGemm(key, &canonical);
  cublasLtMatmulPreference_t pref;
  QSWEEP_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  QSWEEP_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                       sizeof workspace_bytes_));
  // No split-K: each output's sum over k then runs in one order whatever the
  // tile shape, which keeps column-parallel slices equal to the whole layer.
  const uint32_t no_split_k = CUBLASLT_REDUCTION_SCHEME_NONE;
  if (!g.per_rows)
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
  QSWEEP_LT_CHECK(cublasLtMatmulAlgoGetHeuristic(lt_, canonical.desc, canonical.a, canonical.b, canonical.c,
                                                 canonical.c, pref, 1, &result, &found));
  cublasLtMatmulPreferenceDestroy(pref);
  QSWEEP_CHECK(found > 0);
  slot = std::make_unique<cublasLtMatmulAlgo_t>(result.algo);
  return *slot;
}

CudaBackend::GemmPlan& CudaBackend::Plan(const GemmShape& g) {
  auto& slot = plans_[g];
  if (slot) return *slot;
  auto p = std::make_unique<GemmPlan>();
  DescribeGemm(g, p.get());
  p->algo = AlgoFor(g);
  // The shape-wide algorithm must run this row count too (it would be a
  // broken assumption of the batch-invariance rule if it did not).
  cublasLtMatmulHeuristicResult_t check{};
  const cublasStatus_t ok =
      cublasLtMatmulAlgoCheck(lt_, p->desc, p->a, p->b, p->c, p->c, &p->algo, &check);
  if (ok != CUBLAS_STATUS_SUCCESS || check.workspaceSize > workspace_bytes_) {
    std::fprintf(stderr,
                 "qsweep: the GEMM algorithm chosen for %lld x %lld (batch %d) does not run %lld rows (cuBLASLt "
                 "status %d)\n",
                 static_cast<long long>(g.m), static_cast<long long>(g.k), g.batch, static_cast<long long>(g.n),
                 static_cast<int>(ok));
    std::abort();
  }
  slot = std::move(p);
  return *slot;
}

void CudaBackend::Gemm(GemmShape g, const void* a, const void* b, const void* c, void* d, float beta) {
  const int64_t ab = g.ab_bf16 ? 2 : 4, cb = g.c_bf16 ? 2 : 4;
  g.align_a = OperandAlignment(a, g.batch > 1 ? g.stride_a * ab : 0);
  g.align_b = OperandAlignment(b, g.batch > 1 ? g.stride_b * ab : 0);
  g.align_c = std::min(OperandAlignment(c, g.batch > 1 ? g.stride_c * cb : 0), OperandAlignment(d, g.batch > 1 ? g.stride_c * cb : 0));
  g.per_rows = !batch_invariant_;
  GemmPlan& p = Plan(g);
  const float alpha = 1.0f;
  QSWEEP_LT_CHECK(cublasLtMatmul(lt_, p.desc, &alpha, a, p.a, b, p.b, &beta, c, p.c, d, p.c, &p.algo, workspace_,
                                 workspace_bytes_, stream_));
}

void CudaBackend::Matmul(const Linear& l, const Act& x, Act& y) {
  const auto& g = static_cast<const GpuLinear&>(l);
  QSWEEP_CHECK(x.cols == g.in_features() && y.cols == g.out_features() && x.rows == y.rows && x.dtype == g.dtype());
  if (x.rows == 0) return;
  StageScope t(this, g.role() == LinearRole::kHead ? Stage::kHead : Stage::kGemm);
  if (ActQuantProduct(l, x.data, x.rows, x.cols, y.data, y.cols, y.dtype, false)) return;
  if (LowbitProduct(l, x.data, x.rows, x.cols, y.data, y.cols, y.dtype, false)) return;
  const GemmShape shape{g.out_features(), x.rows, g.in_features(), g.in_features(), g.bf16(),
                        y.dtype == DType::kBF16};
  Gemm(shape, DenseWeights(l, 0), x.data, y.data, y.data, 0.0f);
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
               residual.cols == out && residual.dtype == DType::kF32 && in.dtype == p0.dtype());
  if (n == 0) return;
  const bool grouped = group_ && group_->size() > 1;
  if (count == 1 && !grouped) {
    // The whole layer as one part (parallel.reduction: fast, or a width with
    // one canonical part): the GEMM adds its fp32 result into the residual in
    // its epilogue. With tp > 1 a rank's single part may be one of the
    // canonical ones (tp 8 of 8 parts), whose product tp 1 rounds to the
    // compute precision: that path below, for every reduction.
    StageScope t(this, Stage::kGemm);
    if (ActQuantProduct(p0, in.data, n, in.cols, residual.data, residual.cols, DType::kF32, true)) return;
    if (LowbitProduct(p0, in.data, n, in.cols, residual.data, residual.cols, DType::kF32, true)) return;
    const GemmShape shape{out, n, width, in.cols, p0.bf16(), false};
    return Gemm(shape, DenseWeights(p0, 0), in.data, residual.data, residual.data, 1.0f);
  }
  const DType otype = outs[0].dtype;
  const int64_t wbytes = DTypeBytes(p0.dtype()), xbytes = wbytes, obytes = DTypeBytes(otype);
  const auto* o0 = static_cast<char*>(outs[0].data);
  const int64_t ostride = count > 1 ? static_cast<char*>(outs[1].data) - o0 : 0;
  bool batched = count > 1 && ostride % obytes == 0;
  for (int64_t p = 0; p < count; ++p) {
    const auto& lp = static_cast<const GpuLinear&>(*parts[p]);
    QSWEEP_CHECK(lp.dtype() == p0.dtype() && lp.out_features() == out && lp.in_features() == width &&
                 outs[p].dtype == otype && outs[p].rows == n && outs[p].cols == out &&
                 lp.packed().has_value() == p0.packed().has_value() &&
                 lp.act_quant().has_value() == p0.act_quant().has_value());
  }
  {
    StageScope t(this, Stage::kGemm);
    const auto* b = static_cast<const char*>(in.data);
    const bool obf16 = otype == DType::kBF16;
    // Each activation-quantized part quantizes its own columns, as the CPU
    // reference's parts do.
    bool lowbit = true;
    for (int64_t p = 0; p < count && lowbit; ++p)
      lowbit = ActQuantProduct(*parts[p], b + p * width * xbytes, n, in.cols, outs[p].data, outs[p].cols, otype,
                               false) ||
               LowbitProduct(*parts[p], b + p * width * xbytes, n, in.cols, outs[p].data, outs[p].cols, otype, false);
    // (The parts share shape and format: the first decides for all.)
    const char* w = nullptr;
    const char* wp[kernels::kMaxTreeRanks];
    for (int64_t p = 0; p < count && !lowbit; ++p) {
      wp[p] = static_cast<const char*>(DenseWeights(*parts[p], p));
      if (p == 0) w = wp[0];
      batched = batched && wp[p] == w + p * out * width * wbytes && static_cast<char*>(outs[p].data) == o0 + p * ostride;
    }
    if (lowbit) {
      // done
    } else if (batched) {
      const GemmShape shape{out, n, width, in.cols, p0.bf16(), obf16, static_cast<int32_t>(count), out * width,
                            width, ostride / obytes};
      Gemm(shape, w, b, outs[0].data, outs[0].data, 0.0f);
    } else {
      const GemmShape shape{out, n, width, in.cols, p0.bf16(), obf16};
      for (int64_t p = 0; p < count; ++p) Gemm(shape, wp[p], b + p * width * xbytes, outs[p].data, outs[p].data, 0.0f);
    }
  }
  auto tree = [&](float* dst, bool accumulate) {
    StageScope t(this, Stage::kElementwise);
    WithElements(outs[0], [&](auto* first) {
      using T = std::remove_pointer_t<decltype(first)>;
      const T* bufs[kernels::kMaxTreeRanks];
      for (int64_t p = 0; p < count; ++p) bufs[p] = Elements<T>(outs[p]);
      kernels::SumBuffersInTreeOrder(bufs, static_cast<int>(count), n * out, dst, accumulate, stream_);
    });
  };
  if (!grouped) return tree(Fp32(residual), true);
  Act sum{Need(rank_sum_, n * out * 4), n, out, DType::kF32};
  tree(Fp32(sum), false);
  AllReduceSum(sum);
  Add(sum, residual);
}

void CudaBackend::AddBias(const DeviceArray& b, Act& y) {
  StageScope t(this, Stage::kElementwise);
  WithElements(y, [&](auto* yp) { kernels::AddBias(Fp32(b), yp, y.rows, y.cols, stream_); });
}

void CudaBackend::Add(const Act& x, Act& y) {
  StageScope t(this, Stage::kElementwise);
  kernels::Add(Fp32(x), Fp32(y), x.rows * x.cols, stream_);
}

void CudaBackend::SumTree(std::span<Act> parts) {
  if (parts.size() > static_cast<size_t>(kernels::kMaxTreeRanks)) return Backend::SumTree(parts);
  StageScope t(this, Stage::kElementwise);
  const float* bufs[kernels::kMaxTreeRanks];
  for (size_t i = 0; i < parts.size(); ++i) {
    QSWEEP_CHECK(parts[i].rows * parts[i].cols == parts[0].rows * parts[0].cols);
    bufs[i] = Fp32(parts[i]);
  }
  kernels::SumBuffersInTreeOrder(bufs, static_cast<int>(parts.size()), parts[0].rows * parts[0].cols,
                                 Fp32(parts[0]), false, stream_);
}

void CudaBackend::Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) {
  StageScope t(this, Stage::kElementwise);
  QSWEEP_CHECK(layout_rows_ >= x.rows);
  const auto* positions = static_cast<const int32_t*>(positions_.data);
  WithElements(x, [&](auto* xp) {
    kernels::Rotary(xp, x.rows, x.cols / head_dim, head_dim, Fp32(inv_freq), positions, stream_);
  });
}

void CudaBackend::Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) {
  QSWEEP_CHECK(layout_rows_ == q.rows && head_dim <= 256 && q.dtype == k.dtype && q.dtype == v.dtype &&
               q.dtype == out.dtype);
  StageScope t(this, Stage::kAttention);
  const auto [sb, pe, bb] = LayoutOnDevice();
  const kernels::QueryBlocks& qb = query_blocks_;
  const int64_t hq = q.cols / head_dim, hkv = k.cols / head_dim;
  if (q.dtype == DType::kF32)
    return kernels::Attention(Fp32(q), Fp32(k), Fp32(v), q.rows, qb, sb, pe, bb, hq, hkv, head_dim, Fp32(out), stream_);
  // A bf16 model's activations: tensor cores, where there is an instance for
  // the head dim and the rows allow its 16-byte copies: Hopper's wgmma, else
  // mma.sync, else the tiled kernel.
  const bool aligned = ((reinterpret_cast<uintptr_t>(q.data) | reinterpret_cast<uintptr_t>(k.data) |
                         reinterpret_cast<uintptr_t>(v.data) | reinterpret_cast<uintptr_t>(out.data)) & 15) == 0;
  if (!aligned)
    return kernels::Attention(Bf16(q), Bf16(k), Bf16(v), q.rows, qb, sb, pe, bb, hq, hkv, head_dim, Bf16(out), stream_);
  auto* vt = static_cast<bf16*>(Need(v_transposed_, kernels::AttentionWgmmaScratchBytes(q.rows, hkv, head_dim)));
  if (kernels::AttentionWgmma(Bf16(q), Bf16(k), Bf16(v), q.rows, qb, sb, pe, bb, hq, hkv, head_dim, vt, Bf16(out), stream_))
    return;
  if (!kernels::AttentionBf16(Bf16(q), Bf16(k), Bf16(v), q.rows, qb, sb, pe, bb, hq, hkv, head_dim, Bf16(out), stream_))
    kernels::Attention(Bf16(q), Bf16(k), Bf16(v), q.rows, qb, sb, pe, bb, hq, hkv, head_dim, Bf16(out), stream_);
}

void CudaBackend::WriteCache(const Act& x, Act& cache) {
  QSWEEP_CHECK(cache_rows_set_ && layout_rows_ == x.rows && x.cols == cache.cols && x.dtype == cache.dtype);
  StageScope t(this, Stage::kAttention);
  const auto* rows = static_cast<const int64_t*>(cache_row_.data);
  WithElements(x, [&](auto* xp) {
    using T = std::remove_pointer_t<decltype(xp)>;
    kernels::WriteCacheRows(xp, x.rows, x.cols, rows, Elements<T>(cache), stream_);
  });
}

void CudaBackend::CachedAttention(const Act& q, const Act& k_cache, const Act& v_cache, int64_t head_dim, Act& out) {
  QSWEEP_CHECK(cache_reads_set_ && layout_rows_ == q.rows && head_dim <= 256 && q.dtype == k_cache.dtype &&
               q.dtype == v_cache.dtype && q.dtype == out.dtype);
  StageScope t(this, Stage::kAttention);
  const auto* begin = static_cast<const int64_t*>(cache_begin_.data);
  const auto* last = static_cast<const int64_t*>(cache_row_.data);
  const int64_t hq = q.cols / head_dim, hkv = k_cache.cols / head_dim;
  auto* partial = static_cast<float*>(
      Need(attention_partial_, 4 * kernels::CachedAttentionPartialFloats(q.rows, hq, head_dim, cache_max_keys_)));
  WithElements(q, [&](auto* qp) {
    using T = std::remove_pointer_t<decltype(qp)>;
    kernels::CachedAttention(qp, Elements<T>(k_cache), Elements<T>(v_cache), q.rows, begin, last, hq, hkv, head_dim,
                             cache_max_keys_, partial, Elements<T>(out), stream_);
  });
}

void CudaBackend::SwiGlu(const Act& gate, const Act& up, Act& out) {
  StageScope t(this, Stage::kElementwise);
  WithElements(gate, [&](auto* g) {
    using T = std::remove_pointer_t<decltype(g)>;
    kernels::SwiGlu(g, Elements<T>(up), gate.rows * gate.cols, Elements<T>(out), stream_);
  });
}

void CudaBackend::GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) {
  auto* d = static_cast<int64_t*>(Need(head_rows_, rows.size() * 8));
  QSWEEP_CUDA_CHECK(cudaMemcpy(d, rows.data(), rows.size() * 8, cudaMemcpyHostToDevice));
  StageScope t(this, Stage::kElementwise);
  QSWEEP_CHECK(x.dtype == out.dtype && x.cols == out.cols && out.rows >= static_cast<int64_t>(rows.size()));
  WithElements(x, [&](auto* xp) {
    kernels::GatherRows(xp, x.cols, d, static_cast<int64_t>(rows.size()), static_cast<decltype(xp)>(out.data), stream_);
  });
}

void CudaBackend::SliceColumns(const Act& x, int64_t begin, Act& out) {
  StageScope t(this, Stage::kElementwise);
  WithElements(x, [&](auto* xp) {
    using T = std::remove_pointer_t<decltype(xp)>;
    kernels::SliceColumns(xp, x.rows, x.cols, begin, out.cols, Elements<T>(out), stream_);
  });
}

const int32_t* CudaBackend::DeviceTargets(std::span<const int32_t> targets) {
  const int64_t n = static_cast<int64_t>(targets.size());
  auto* t = static_cast<int32_t*>(Need(targets_, n * 4));
  if (!std::equal(targets.begin(), targets.end(), uploaded_targets_.begin(), uploaded_targets_.end())) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(t, targets.data(), n * 4, cudaMemcpyHostToDevice));
    uploaded_targets_.assign(targets.begin(), targets.end());
  }
  return t;
}

const float* CudaBackend::StatsToHost(const void* device, int64_t words) {
  // Pinned, so that the copy runs at full speed (32 of them per 8k-token batch).
  if (host_stats_words_ < words) {
    if (host_stats_) QSWEEP_CUDA_CHECK(cudaFreeHost(host_stats_));
    QSWEEP_CUDA_CHECK(cudaMallocHost(&host_stats_, words * 4));
    host_stats_words_ = words;
  }
  QSWEEP_CUDA_CHECK(cudaMemcpy(host_stats_, device, words * 4, cudaMemcpyDeviceToHost));
  return host_stats_;
}

void CudaBackend::LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end, std::span<const int32_t> targets,
                                  int k, bool full_rows, int64_t vocab_begin, LogitStats* out) {
  const int64_t n = static_cast<int64_t>(targets.size()), v = col_end - col_begin;
  QSWEEP_CHECK(k <= kMaxTopK);
  const int32_t* t = DeviceTargets(targets);
  const int kk = std::max(k, 1);
  // [max, sum_exp, target] then [top-k logits] then [top-k ids], one copy back.
  const int64_t words = n * (3 + 2 * kk);
  auto* stats = static_cast<float*>(Need(stats_, words * 4));
  float *mx = stats, *se = stats + n, *tl = stats + 2 * n, *tv = stats + 3 * n;
  auto* ti = reinterpret_cast<int32_t*>(stats + 3 * n + n * kk);
  StageScope timer(this, Stage::kLogitStats);
  kernels::LogitStats(Fp32(logits), n, logits.cols, col_begin, col_end, t, vocab_begin, k, mx, se, tl, ti, tv, stream_);
  const float* h = StatsToHost(stats, words);
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
    QSWEEP_CUDA_CHECK(cudaMemcpy2D(out->logits.data(), v * 4, Fp32(logits) + col_begin, logits.cols * 4, v * 4, n,
                                   cudaMemcpyDeviceToHost));
  }
}

void CudaBackend::PairLogitStatistics(const Act& base, const Act& cand, int64_t col_begin, int64_t col_end,
                                      std::span<const int32_t> targets, int64_t vocab_begin, LogitStats* out) {
  const int64_t n = static_cast<int64_t>(targets.size());
  QSWEEP_CHECK(base.cols == cand.cols && base.rows >= n && cand.rows >= n);
  QSWEEP_CHECK(0 <= col_begin && col_begin <= col_end && col_end <= base.cols);
  const int32_t* t = DeviceTargets(targets);
  // [base_sum, cand_sum, base_dot, cand_dot] (fp64, first: 8-byte aligned)
  // then [base_max, cand_max, base_target_logit] then [base_argmax]: 48
  // bytes a row, well within what ReserveScratch sized stats_ for (the
  // top-k's 524), and one copy back.
  const int64_t words = n * 12;
  auto* stats = static_cast<char*>(Need(stats_, words * 4));
  auto* sums = reinterpret_cast<double*>(stats);
  auto* maxima = reinterpret_cast<float*>(stats + 32 * n);
  const kernels::PairLogitOut o{.base_max = maxima,
                                .base_argmax = reinterpret_cast<int32_t*>(stats + 44 * n),
                                .base_target_logit = maxima + 2 * n,
                                .cand_max = maxima + n,
                                .base_sum = sums,
                                .cand_sum = sums + n,
                                .base_dot = sums + 2 * n,
                                .cand_dot = sums + 3 * n};
  StageScope timer(this, Stage::kLogitStats);
  kernels::PairLogitStats(Fp32(base), Fp32(cand), n, base.cols, col_begin, col_end, t, vocab_begin, o, stream_);
  const auto* h = reinterpret_cast<const char*>(StatsToHost(stats, words));
  auto take = [&](auto& to, int64_t offset) {  // n values at byte `offset` of the copy
    to.resize(n);
    std::memcpy(to.data(), h + offset, n * sizeof(to[0]));
  };
  take(out->base_sum, 0);
  take(out->cand_sum, 8 * n);
  take(out->base_dot, 16 * n);
  take(out->cand_dot, 24 * n);
  take(out->base_max, 32 * n);
  take(out->cand_max, 36 * n);
  take(out->base_target_logit, 40 * n);
  take(out->base_argmax, 44 * n);
}

void CudaBackend::AllReduceSum(Act& x) {
  if (!group_ || group_->size() == 1) return;
  QSWEEP_CHECK(group_->size() <= kernels::kMaxTreeRanks);
  StageScope t(this, Stage::kAllReduce);
  const int64_t n = x.rows * x.cols;
  auto* all = static_cast<float*>(Need(all_gather_, static_cast<size_t>(n) * group_->size() * sizeof(float)));
  group_->AllGather(Fp32(x), all, n, stream_);
  kernels::SumRanksInTreeOrder(all, group_->size(), n, Fp32(x), stream_);
}

std::tuple<const int64_t*, const int64_t*, const int64_t*> CudaBackend::LayoutOnDevice() const {
  return {static_cast<const int64_t*>(seq_begin_.data), static_cast<const int64_t*>(prefix_end_.data),
          static_cast<const int64_t*>(branch_begin_.data)};
}

std::vector<float> CudaBackend::Download(const Act& a) {
  std::vector<float> h(a.rows * a.cols);
  if (a.dtype == DType::kF32) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(h.data(), a.data, h.size() * 4, cudaMemcpyDeviceToHost));
    return h;
  }
  QSWEEP_CHECK(a.dtype == DType::kBF16);
  std::vector<uint16_t> b(h.size());
  QSWEEP_CUDA_CHECK(cudaMemcpy(b.data(), a.data, b.size() * 2, cudaMemcpyDeviceToHost));
  const int64_t n = static_cast<int64_t>(b.size());
#pragma omp parallel for schedule(static) if (n > (1 << 20))
  for (int64_t i = 0; i < n; ++i) h[i] = BF16ToFloat(b[i]);
  return h;
}

void CudaBackend::UploadBf16(std::span<const uint16_t> bits, Act& a) {
  if (a.dtype != DType::kBF16) return Backend::UploadBf16(bits, a);
  QSWEEP_CHECK(static_cast<int64_t>(bits.size()) <= a.rows * a.cols);
  QSWEEP_CUDA_CHECK(cudaMemcpy(a.data, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
}

void CudaBackend::UploadTo(std::span<const float> values, Act& a) {
  QSWEEP_CHECK(static_cast<int64_t>(values.size()) <= a.rows * a.cols);
  if (a.dtype == DType::kF32) {
    QSWEEP_CUDA_CHECK(cudaMemcpy(a.data, values.data(), values.size() * 4, cudaMemcpyHostToDevice));
    return;
  }
  QSWEEP_CHECK(a.dtype == DType::kBF16);
  std::vector<uint16_t> b(values.size());
  // Tens of millions of values per upload where a candidate sends a
  // baseline's hidden states: the host's cores share the narrowing.
  const int64_t n = static_cast<int64_t>(b.size());
#pragma omp parallel for schedule(static) if (n > (1 << 20))
  for (int64_t i = 0; i < n; ++i) b[i] = FloatToBF16(values[i]);
  QSWEEP_CUDA_CHECK(cudaMemcpy(a.data, b.data(), b.size() * 2, cudaMemcpyHostToDevice));
}

absl::StatusOr<CudaCalibration*> CudaBackend::Calibration() {
  if (!calibration_) {
    QSWEEP_ASSIGN_OR_RETURN(calibration_, CudaCalibration::Create(stream_));
  }
  return calibration_.get();
}

absl::StatusOr<std::unique_ptr<HessianSum>> CudaBackend::CreateHessianSum(int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(CudaCalibration * c, Calibration());
  return c->CreateHessianSum(in);
}

absl::StatusOr<std::unique_ptr<ColumnAbsStats>> CudaBackend::CreateColumnAbsStats(int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(CudaCalibration * c, Calibration());
  return c->CreateColumnAbsStats(in);
}

double CudaBackend::SquaredError(const Act& a, const Act& b) {
  absl::StatusOr<CudaCalibration*> c = Calibration();
  if (!c.ok()) return Backend::SquaredError(a, b);
  return (*c)->SquaredError(a, b);
}

absl::StatusOr<GptqResult> CudaBackend::Gptq(const WeightFormat& f, std::span<const float> w, int64_t out,
                                             int64_t in, std::span<const float> hessian, const GptqOptions& options,
                                             std::string_view name) {
  QSWEEP_ASSIGN_OR_RETURN(CudaCalibration * c, Calibration());
  return c->Gptq(f, w, out, in, hessian, options, name);
}

}  // namespace qsweep
