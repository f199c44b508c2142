#include "backend/cuda/cuda_calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "backend/cuda/cuda_check.h"
#include "core/status_macros.h"
#include "awq.cuh"
#include "gptq.cuh"

namespace qsweep {
namespace {

// cuBLAS and cuSOLVER calls on operands the caller sized: a failure is a
// broken invariant of this file.
void Check(bool ok, const char* call, int status) {
  if (ok) return;
  std::fprintf(stderr, "qsweep: %s failed with status %d\n", call, status);
  std::abort();
}
#define QSWEEP_BLAS(expr) \
  do { const cublasStatus_t _s = (expr); Check(_s == CUBLAS_STATUS_SUCCESS, #expr, static_cast<int>(_s)); } while (0)
#define QSWEEP_SOLVER(expr) \
  do { const cusolverStatus_t _s = (expr); Check(_s == CUSOLVER_STATUS_SUCCESS, #expr, static_cast<int>(_s)); } while (0)

// Device memory owned for the length of one calibration step.
class DeviceBuffer {
 public:
  static absl::StatusOr<DeviceBuffer> Make(size_t bytes, std::string_view what) {
    DeviceBuffer b;
    const cudaError_t e = cudaMalloc(&b.p_, std::max<size_t>(bytes, 1));
    if (e != cudaSuccess) {
      cudaGetLastError();
      b.p_ = nullptr;
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      return absl::ResourceExhaustedError(absl::StrFormat(
          "out of device memory for %s: asked for %.3f GiB, %.3f GiB free of %.1f GiB (%s)", what,
          bytes / double(1 << 30), free / double(1 << 30), total / double(1 << 30), cudaGetErrorName(e)));
    }
    return b;
  }
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
};

cudaDataType_t BlasType(DType t) {
  switch (t) {
    case DType::kBF16: return CUDA_R_16BF;
    case DType::kF16: return CUDA_R_16F;
    default: return CUDA_R_32F;
  }
}

class CudaHessianSum : public HessianSum {
 public:
  CudaHessianSum(cublasHandle_t blas, cudaStream_t stream, int64_t in, DeviceBuffer sum)
      : blas_(blas), stream_(stream), in_(in), sum_(std::move(sum)) {}

  // Σ x xᵀ as the column-major product X·Xᵀ of X = xᵀ [in, rows]; the sum
  // is symmetric up to the order of the GEMM's partial sums, and Hessian
  // keeps its upper triangle.
  void Add(const Act& x) override {
    QSWEEP_CHECK(x.cols == in_);
    if (x.rows == 0) return;
    const float one = 1.0f;
    const cudaDataType_t t = BlasType(x.dtype);
    const int n = static_cast<int>(in_);
    QSWEEP_BLAS(cublasGemmEx(blas_, CUBLAS_OP_N, CUBLAS_OP_T, n, n, static_cast<int>(x.rows), &one, x.data, t, n,
                             x.data, t, n, &one, sum_.as<float>(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT));
    tokens_ += x.rows;
  }
  int64_t tokens() const override { return tokens_; }
  std::vector<float> Hessian() override {
    const int64_t n = in_;
    std::vector<float> sum(n * n), h(n * n, 0.0f);
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(sum.data(), sum_.as<float>(), n * n * sizeof(float), cudaMemcpyDeviceToHost,
                                      stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (tokens_ == 0) return h;
    const double k = 2.0 / static_cast<double>(tokens_);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) h[i * n + j] = h[j * n + i] = static_cast<float>(k * sum[i * n + j]);
    return h;
  }

 private:
  cublasHandle_t blas_;
  cudaStream_t stream_;
  int64_t in_, tokens_ = 0;
  DeviceBuffer sum_;
};

// Σ|x| and max |x| per column on the device, added slice by slice of at
// most kRows rows so that the partials' scratch is made once.
class CudaColumnAbsStats : public ColumnAbsStats {
 public:
  static constexpr int64_t kRows = 8192;
  static absl::StatusOr<std::unique_ptr<CudaColumnAbsStats>> Make(cudaStream_t stream, int64_t in) {
    std::unique_ptr<CudaColumnAbsStats> c(new CudaColumnAbsStats(stream, in));
    const std::string what = absl::StrFormat("the column statistics of %d inputs", in);
    QSWEEP_ASSIGN_OR_RETURN(c->sum_, DeviceBuffer::Make(in * sizeof(double), what));
    QSWEEP_ASSIGN_OR_RETURN(c->max_, DeviceBuffer::Make(in * sizeof(float), what));
    QSWEEP_ASSIGN_OR_RETURN(c->scratch_, DeviceBuffer::Make(kernels::ColumnAbsScratch(kRows, in) * sizeof(double), what));
    QSWEEP_CUDA_CHECK(cudaMemsetAsync(c->sum_.as<double>(), 0, in * sizeof(double), stream));
    QSWEEP_CUDA_CHECK(cudaMemsetAsync(c->max_.as<float>(), 0, in * sizeof(float), stream));
    return c;
  }
  void Add(const Act& x) override {
    QSWEEP_CHECK(x.cols == in_ && (x.dtype == DType::kBF16 || x.dtype == DType::kF32));
    const int64_t elem = DTypeBytes(x.dtype);
    for (int64_t r = 0; r < x.rows; r += kRows)
      kernels::ColumnAbsStats(static_cast<const char*>(x.data) + r * in_ * elem, x.dtype == DType::kBF16,
                              std::min(kRows, x.rows - r), in_, scratch_.as<double>(), sum_.as<double>(),
                              max_.as<float>(), stream_);
    rows_ += x.rows;
  }
  std::vector<float> MeanAbs() override {
    std::vector<double> sum(in_);
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(sum.data(), sum_.as<double>(), in_ * sizeof(double), cudaMemcpyDeviceToHost,
                                      stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<float> v(in_);
    for (int64_t j = 0; j < in_; ++j) v[j] = rows_ ? static_cast<float>(sum[j] / rows_) : 0.0f;
    return v;
  }
  std::vector<float> AbsMax() override {
    std::vector<float> v(in_);
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(v.data(), max_.as<float>(), in_ * sizeof(float), cudaMemcpyDeviceToHost,
                                      stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return v;
  }

 private:
  CudaColumnAbsStats(cudaStream_t stream, int64_t in) : stream_(stream), in_(in) {}
  cudaStream_t stream_;
  int64_t in_, rows_ = 0;
  DeviceBuffer sum_, max_, scratch_;
};

template <class T>
void Upload(T* device, const std::vector<T>& host, cudaStream_t stream) {
  QSWEEP_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
}
template <class T>
void Download(std::vector<T>& host, const T* device, cudaStream_t stream) {
  QSWEEP_CUDA_CHECK(cudaMemcpyAsync(host.data(), device, host.size() * sizeof(T), cudaMemcpyDeviceToHost, stream));
  QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace

bool GptqRunsOnDevice(const WeightFormat& f, const GptqOptions& o) {
  const int64_t b = kernels::kGptqBlock;
  return f.kind == WeightKind::kInt && o.block_size == b && (!o.act_order || o.static_groups || f.group <= 0) &&
         (f.group <= 0 || b % f.group == 0 || f.group % b == 0);
}

absl::StatusOr<std::unique_ptr<CudaCalibration>> CudaCalibration::Create(cudaStream_t stream) {
  std::unique_ptr<CudaCalibration> c(new CudaCalibration());
  c->stream_ = stream;
  if (cublasCreate(&c->blas_) != CUBLAS_STATUS_SUCCESS)
    return absl::InternalError("cuBLAS could not start (cublasCreate), which calibration needs");
  QSWEEP_BLAS(cublasSetStream(c->blas_, stream));
  if (cudaMalloc(&c->error_scratch_, (kernels::SquaredErrorScratch(kErrorSlice) + 1) * sizeof(double)) !=
      cudaSuccess) {
    cudaGetLastError();
    c->error_scratch_ = nullptr;
    return absl::ResourceExhaustedError("out of device memory for the squared-error partials of calibration");
  }
  // fp32 products stay fp32 (no TF32): GPTQ's updates are the reference's.
  QSWEEP_BLAS(cublasSetMathMode(c->blas_, CUBLAS_PEDANTIC_MATH));
  if (cusolverDnCreate(&c->solver_) != CUSOLVER_STATUS_SUCCESS)
    return absl::InternalError("cuSOLVER could not start (cusolverDnCreate), which GPTQ needs");
  QSWEEP_SOLVER(cusolverDnSetStream(c->solver_, stream));
  return c;
}

CudaCalibration::~CudaCalibration() {
  if (error_scratch_) cudaFree(error_scratch_);
  if (solver_) cusolverDnDestroy(solver_);
  if (blas_) cublasDestroy(blas_);
}

absl::StatusOr<std::unique_ptr<HessianSum>> CudaCalibration::CreateHessianSum(int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer sum,
                          DeviceBuffer::Make(in * in * sizeof(float), absl::StrFormat("a Hessian [%d, %d]", in, in)));
  QSWEEP_CUDA_CHECK(cudaMemsetAsync(sum.as<float>(), 0, in * in * sizeof(float), stream_));
  return std::make_unique<CudaHessianSum>(blas_, stream_, in, std::move(sum));
}

absl::StatusOr<std::unique_ptr<ColumnAbsStats>> CudaCalibration::CreateColumnAbsStats(int64_t in) {
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<CudaColumnAbsStats> c, CudaColumnAbsStats::Make(stream_, in));
  return c;
}

// Slices of kErrorSlice elements into the scratch made at Create, their
// sums added on the host in slice order.
double CudaCalibration::SquaredError(const Act& a, const Act& b) {
  QSWEEP_CHECK(a.rows == b.rows && a.cols == b.cols);
  const int64_t n = a.rows * a.cols, ea = DTypeBytes(a.dtype), eb = DTypeBytes(b.dtype);
  double total = 0;
  for (int64_t i = 0; i < n; i += kErrorSlice) {
    const int64_t m = std::min(kErrorSlice, n - i);
    double* scratch = error_scratch_;
    kernels::SquaredErrorSum(static_cast<const char*>(a.data) + i * ea, a.dtype == DType::kBF16,
                             static_cast<const char*>(b.data) + i * eb, b.dtype == DType::kBF16, m, scratch + 1,
                             scratch, stream_);
    double part = 0;
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(&part, scratch, sizeof(double), cudaMemcpyDeviceToHost, stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    total += part;
  }
  return total;
}

absl::StatusOr<GptqResult> CudaCalibration::Gptq(const WeightFormat& f, std::span<const float> w, int64_t out,
                                                 int64_t in, std::span<const float> hessian,
                                                 const GptqOptions& opt, std::string_view name) {
  if (!GptqRunsOnDevice(f, opt)) return GptqQuantize(f, w, out, in, hessian, opt, name);
  QSWEEP_ASSIGN_OR_RETURN(GptqProblem p, PrepareGptq(f, w, out, in, hessian, opt, name));
  const int64_t groups = p.groups, block = kernels::kGptqBlock;
  const bool fixed = !p.grouped || opt.static_groups;
  const std::string what = absl::StrFormat("GPTQ of %s", name);
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dh, DeviceBuffer::Make(in * in * sizeof(float), what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dw, DeviceBuffer::Make(out * in * sizeof(float), what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dcodes, DeviceBuffer::Make(out * in, what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer derr, DeviceBuffer::Make(out * block * sizeof(float), what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dscales, DeviceBuffer::Make(out * groups * sizeof(uint16_t), what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dzeros, DeviceBuffer::Make(out * groups, what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dgroup_of, DeviceBuffer::Make(in * sizeof(int32_t), what));
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer dinfo, DeviceBuffer::Make(sizeof(int), what));

  // The weights in processing order.
  const bool permuted = opt.act_order;
  std::vector<float> wp;
  if (permuted) {
    wp.resize(out * in);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < out; ++r)
      for (int64_t i = 0; i < in; ++i) wp[r * in + i] = p.w[r * in + p.perm[i]];
  }
  Upload(dw.as<float>(), permuted ? wp : p.w, stream_);
  kernels::GptqGrids grids{dscales.as<uint16_t>(), f.asymmetric ? dzeros.as<uint8_t>() : nullptr, groups, nullptr,
                           fixed};
  std::vector<uint16_t> scale_bits(out * groups);
  std::vector<uint8_t> zeros(out * groups);
  if (fixed) {
    for (size_t i = 0; i < p.grid.size(); ++i) {
      scale_bits[i] = p.grid[i].scale_bits;
      zeros[i] = static_cast<uint8_t>(p.grid[i].zero);
    }
    Upload(dscales.as<uint16_t>(), scale_bits, stream_);
    Upload(dzeros.as<uint8_t>(), zeros, stream_);
    if (opt.act_order && p.grouped) {
      std::vector<int32_t> group_of(in);
      for (int64_t i = 0; i < in; ++i) group_of[i] = static_cast<int32_t>(p.perm[i] / p.g0);
      Upload(dgroup_of.as<int32_t>(), group_of, stream_);
      grids.group_of = dgroup_of.as<int32_t>();
    }
  }

  // U: the damped H factorized (lower, column-major), inverted in place
  // (potri writes the inverse's lower triangle), and that factorized again.
  // Read row-major, the lower column-major factor L of H⁻¹ = L·Lᵀ is the
  // upper U with H⁻¹ = Uᵀ·U that the column loop reads.
  const int n = static_cast<int>(in);
  float* u = dh.as<float>();
  int lwork_potrf = 0, lwork_potri = 0;
  QSWEEP_SOLVER(cusolverDnSpotrf_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, n, u, n, &lwork_potrf));
  QSWEEP_SOLVER(cusolverDnSpotri_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, n, u, n, &lwork_potri));
  const int lwork = std::max(lwork_potrf, lwork_potri);
  QSWEEP_ASSIGN_OR_RETURN(DeviceBuffer work, DeviceBuffer::Make(size_t(lwork) * sizeof(float), what));
  int* info = dinfo.as<int>();
  auto factorized = [&]() {
    int h_info = 0;
    QSWEEP_CUDA_CHECK(cudaMemcpyAsync(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost, stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return h_info == 0;
  };
  std::vector<float> damped_diagonal(in), diagonal(in);
  const auto t0 = std::chrono::steady_clock::now();
  double damp = opt.damp;
  bool ok = false;
  for (int attempt = 0; attempt <= opt.damp_retries && !ok; ++attempt, damp *= ok ? 1 : 10) {
    // H, then its diagonal damped in double as the reference damps it.
    Upload(u, p.h, stream_);
    for (int64_t i = 0; i < in; ++i)
      damped_diagonal[i] = static_cast<float>(static_cast<double>(p.h[i * in + i]) + damp * p.mean_diag);
    QSWEEP_CUDA_CHECK(cudaMemcpy2DAsync(u, (in + 1) * sizeof(float), damped_diagonal.data(), sizeof(float),
                                        sizeof(float), in, cudaMemcpyHostToDevice, stream_));
    QSWEEP_SOLVER(cusolverDnSpotrf(solver_, CUBLAS_FILL_MODE_LOWER, n, u, n, work.as<float>(), lwork, info));
    if (!factorized()) continue;
    QSWEEP_SOLVER(cusolverDnSpotri(solver_, CUBLAS_FILL_MODE_LOWER, n, u, n, work.as<float>(), lwork, info));
    if (!factorized()) continue;
    QSWEEP_SOLVER(cusolverDnSpotrf(solver_, CUBLAS_FILL_MODE_LOWER, n, u, n, work.as<float>(), lwork, info));
    if (!factorized()) continue;
    // A NaN passes potrf's pivot test; the reference's factorization fails on it.
    QSWEEP_CUDA_CHECK(cudaMemcpy2DAsync(diagonal.data(), sizeof(float), u, (in + 1) * sizeof(float), sizeof(float),
                                        in, cudaMemcpyDeviceToHost, stream_));
    QSWEEP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    ok = std::all_of(diagonal.begin(), diagonal.end(), [](float d) { return d > 0 && std::isfinite(d); });
  }
  const auto t1 = std::chrono::steady_clock::now();
  if (!ok) return GptqSingularError(name, in, damp / 10, p.mean_diag, opt.damp_retries);

  const kernels::GptqFormat kf{f.bits, f.asymmetric, f.group > 0 ? f.group : 0};
  const float one = 1.0f, minus_one = -1.0f;
  for (int64_t b = 0; b < in; b += block) {
    if (!fixed && p.g0 >= block && b % p.g0 == 0)
      kernels::GptqGroupGrids(kf, dw.as<float>(), out, in, b, grids, stream_);
    kernels::GptqBlock(kf, dw.as<float>(), out, in, u, b, grids, dcodes.as<uint8_t>(), derr.as<float>(), stream_);
    const int64_t width = std::min(block, in - b), rest = in - b - width;
    if (rest == 0) continue;
    // W[:, b + width:] -= E · U[b : b + width, b + width:] (row-major), as
    // column-major: (W + b + width) [rest, out] -= (U + b·in + b + width) [rest, width] · E [width, out].
    QSWEEP_BLAS(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(rest), static_cast<int>(out),
                            static_cast<int>(width), &minus_one, u + b * in + b + width, n, derr.as<float>(),
                            static_cast<int>(block), &one, dw.as<float>() + b + width, n));
  }
  std::vector<uint8_t> codes(out * in);
  if (permuted) {
    std::vector<uint8_t> codes_p(out * in);
    Download(codes_p, dcodes.as<uint8_t>(), stream_);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < out; ++r)
      for (int64_t i = 0; i < in; ++i) codes[r * in + p.perm[i]] = codes_p[r * in + i];
  } else {
    Download(codes, dcodes.as<uint8_t>(), stream_);
  }
  if (!fixed) {
    Download(scale_bits, dscales.as<uint16_t>(), stream_);
    if (f.asymmetric) Download(zeros, dzeros.as<uint8_t>(), stream_);
    for (size_t i = 0; i < p.grid.size(); ++i) {
      p.grid[i].scale_bits = scale_bits[i];
      p.grid[i].zero = f.asymmetric ? static_cast<float>(zeros[i]) : 0.0f;
    }
  }
  const auto t2 = std::chrono::steady_clock::now();
  GptqResult res = GptqWeights(f, p, codes);
  res.damp_used = damp;
  res.factorize_seconds = std::chrono::duration<double>(t1 - t0).count();
  res.columns_seconds = std::chrono::duration<double>(t2 - t1).count();
  return res;
}

}  // namespace qsweep
