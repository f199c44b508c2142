#include "quant/gptq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "quant/bit_packing.h"

namespace qsweep {
namespace {

// L⁻¹ of a lower-triangular L, returned transposed (Y = L⁻ᵀ, upper), then
// H⁻¹ = L⁻ᵀ L⁻¹ = Y Yᵀ: the reference's cholesky_inverse.
std::vector<double> InverseFromCholesky(const std::vector<double>& l, int64_t n) {
  std::vector<double> y(n * n, 0.0), inv(n * n);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t c = 0; c < n; ++c) {
    double* yc = y.data() + c * n;  // column c of L⁻¹: entries c..n-1
    for (int64_t i = c; i < n; ++i) {
      const double* li = l.data() + i * n;
      double s = i == c ? 1.0 : 0.0;
      for (int64_t k = c; k < i; ++k) s -= li[k] * yc[k];
      yc[i] = s / li[i];
    }
  }
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) {
      double s = 0;
      for (int64_t k = j; k < n; ++k) s += y[i * n + k] * y[j * n + k];
      inv[i * n + j] = inv[j * n + i] = s;
    }
  return inv;
}

// U, the upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U), row-major; nullopt
// where either factorization fails.
std::optional<std::vector<double>> UpperCholeskyOfInverse(std::vector<double> h, int64_t n) {
  if (!CholeskyLower(h, n)) return std::nullopt;
  std::vector<double> inv = InverseFromCholesky(h, n);
  if (!CholeskyLower(inv, n)) return std::nullopt;
  std::vector<double> u(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) u[j * n + i] = inv[i * n + j];
  return u;
}

}  // namespace

bool CholeskyLower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* aj = a.data() + j * n;
    double d = aj[j];
    for (int64_t k = 0; k < j; ++k) d -= aj[k] * aj[k];
    if (!(d > 0) || !std::isfinite(d)) return false;
    aj[j] = std::sqrt(d);
#pragma omp parallel for schedule(static) if (n - j > 256)
    for (int64_t i = j + 1; i < n; ++i) {
      double* ai = a.data() + i * n;
      double s = ai[j];
      for (int64_t k = 0; k < j; ++k) s -= ai[k] * aj[k];
      ai[j] = s / aj[j];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = 0;
  return true;
}

void HessianAccumulator::Add(const float* x, int64_t rows) {
  const int64_t n = in_;
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    double* si = sum_.data() + i * n;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * n;
      const double xi = xr[i];
      if (xi == 0) continue;
      for (int64_t j = i; j < n; ++j) si[j] += xi * xr[j];
    }
  }
  tokens_ += rows;
}

std::vector<float> HessianAccumulator::Hessian() const {
  const int64_t n = in_;
  std::vector<float> h(n * n, 0.0f);
  if (tokens_ == 0) return h;
  const double k = 2.0 / static_cast<double>(tokens_);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) h[i * n + j] = h[j * n + i] = static_cast<float>(k * sum_[i * n + j]);
  return h;
}

absl::StatusOr<GptqProblem> PrepareGptq(const WeightFormat& f, std::span<const float> w_in, int64_t out, int64_t in,
                                        std::span<const float> hessian, const GptqOptions& opt,
                                        std::string_view name) {
  if (f.kind != WeightKind::kInt)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: GPTQ quantizes integer formats (w2..w8, a16/a8/a4), not %s", name, f.Describe()));
  if (static_cast<int64_t>(w_in.size()) != out * in)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d weights for a [%d, %d] layer", name, w_in.size(), out, in));
  if (static_cast<int64_t>(hessian.size()) != in * in)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the Hessian has %d values, the layer's %d inputs need [%d, %d]", name, hessian.size(), in, in, in));
  GptqProblem p;
  p.out = out;
  p.in = in;
  p.g0 = f.group > 0 ? f.group : in;
  p.groups = (in + p.g0 - 1) / p.g0;
  p.grouped = f.group > 0;  // even where g >= in, as the reference
  const int64_t g0 = p.g0, groups = p.groups;
  const float* h = hessian.data();
  std::vector<IntGrid>& grid = p.grid;
  grid.resize(out * groups);
  // Dead columns (H_ii = 0) get H_ii = 1 and zero weights.
  std::vector<char> dead(in);
  for (int64_t i = 0; i < in; ++i) p.dead_columns += dead[i] = h[i * in + i] == 0;
  std::vector<float>& w = p.w;
  w.resize(out * in);
  // Per channel: the row's grid from the weights as given (the reference
  // finds it before zeroing dead columns). Static groups: from the weights
  // with dead columns zeroed.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r) {
    const float* src = w_in.data() + r * in;
    float* dst = w.data() + r * in;
    if (!p.grouped) grid[r * groups] = IntGroupGrid(f, src, in);
    for (int64_t i = 0; i < in; ++i) dst[i] = dead[i] ? 0.0f : src[i];
    if (p.grouped && opt.static_groups)
      for (int64_t gi = 0; gi < groups; ++gi)
        grid[r * groups + gi] = IntGroupGrid(f, dst + gi * g0, std::min(g0, in - gi * g0));
  }
  auto diag = [&](int64_t i) { return dead[i] ? 1.0f : h[i * in + i]; };
  // perm[p]: the column processed p-th; pos[c]: where column c is processed.
  std::vector<int64_t>& perm = p.perm;
  std::vector<int64_t>& pos = p.pos;
  perm.resize(in);
  pos.resize(in);
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return diag(a) > diag(b); });
  for (int64_t i = 0; i < in; ++i) pos[perm[i]] = i;
  p.h.resize(in * in);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < in; ++i) {
    const float* src = h + perm[i] * in;
    float* dst = p.h.data() + i * in;
    if (opt.act_order)
      for (int64_t j = 0; j < in; ++j) dst[j] = src[perm[j]];
    else
      std::copy(src, src + in, dst);
    dst[i] = diag(perm[i]);
  }
  for (int64_t i = 0; i < in; ++i) p.mean_diag += p.h[i * in + i];
  p.mean_diag /= in;
  return p;
}

absl::Status GptqSingularError(std::string_view name, int64_t in, double damp, double mean_diag, int retries) {
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s: the Hessian [%d, %d] is not positive definite even with damping %g x its mean diagonal (%g) after "
      "%d retries: the calibration inputs are degenerate (too few tokens, or NaN / Inf activations)",
      name, in, in, damp, mean_diag, retries));
}

GptqResult GptqWeights(const WeightFormat& f, const GptqProblem& p, const std::vector<uint8_t>& codes) {
  GptqResult res;
  QuantizedWeights& q = res.weights;
  q.format = f;
  q.out = p.out;
  q.in = p.in;
  q.groups = p.groups;
  q.scales.resize(p.out * p.groups);
  if (f.asymmetric) q.zeros.resize(p.out * p.groups);
  for (int64_t r = 0; r < p.out; ++r)
    for (int64_t gi = 0; gi < p.groups; ++gi) {
      const IntGrid& gr = p.grid[r * p.groups + (p.grouped ? gi : 0)];
      q.scales[r * p.groups + gi] = gr.scale_bits;
      if (f.asymmetric) q.zeros[r * p.groups + gi] = static_cast<uint8_t>(gr.zero);
    }
  q.codes = PackCodes(codes, p.out, p.in, f.bits);
  res.dead_columns = p.dead_columns;
  return res;
}

absl::StatusOr<GptqResult> GptqQuantize(const WeightFormat& f, std::span<const float> w_in, int64_t out, int64_t in,
                                        std::span<const float> hessian, const GptqOptions& opt,
                                        std::string_view name) {
  QSWEEP_ASSIGN_OR_RETURN(GptqProblem prob, PrepareGptq(f, w_in, out, in, hessian, opt, name));
  const int64_t g0 = prob.g0, groups = prob.groups;
  const bool grouped = prob.grouped;
  const int64_t block = std::max<int64_t>(1, opt.block_size);
  const std::vector<int64_t>& perm = prob.perm;
  const std::vector<int64_t>& pos = prob.pos;
  const std::vector<float>& hp = prob.h;
  std::vector<IntGrid>& grid = prob.grid;
  const std::vector<float>& w = prob.w;
  const double mean_diag = prob.mean_diag;

  const auto t0 = std::chrono::steady_clock::now();
  std::optional<std::vector<double>> u;
  double damp = opt.damp;
  for (int attempt = 0; attempt <= opt.damp_retries; ++attempt, damp *= 10) {
    std::vector<double> damped(hp.begin(), hp.end());
    for (int64_t i = 0; i < in; ++i) damped[i * in + i] += damp * mean_diag;
    if ((u = UpperCholeskyOfInverse(std::move(damped), in))) break;
  }
  if (!u) return GptqSingularError(name, in, damp / 10, mean_diag, opt.damp_retries);
  const double* U = u->data();
  const auto t1 = std::chrono::steady_clock::now();

  // A grouped layer's group gets its grid when the first of its columns (in
  // processing order) comes up.
  std::vector<int64_t> group_start(groups, in);
  for (int64_t c = 0; c < in; ++c) group_start[c / g0] = std::min(group_start[c / g0], pos[c]);

  std::vector<uint8_t> codes(out * in);
  // Rows are independent given U: tiles of rows share each read of U.
  constexpr int64_t kTile = 16;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r0 = 0; r0 < out; r0 += kTile) {
    const int64_t rows = std::min(kTile, out - r0);
    std::vector<double> wt(rows * in), err(rows * block), cur(g0);
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t p = 0; p < in; ++p) wt[t * in + p] = w[(r0 + t) * in + perm[p]];
    for (int64_t i1 = 0; i1 < in; i1 += block) {
      const int64_t i2 = std::min(in, i1 + block);
      for (int64_t i = i1; i < i2; ++i) {
        const int64_t c = perm[i], gi = c / g0;
        const double d = U[i * in + i];
        for (int64_t t = 0; t < rows; ++t) {
          double* wr = wt.data() + t * in;
          double* er = err.data() + t * block;
          IntGrid& gr = grid[(r0 + t) * groups + (grouped ? gi : 0)];
          if (grouped && !opt.static_groups && group_start[gi] == i) {
            // Current values of the group's columns: later columns of this
            // block are up to date; later blocks still lack this block's
            // updates so far, which are applied here.
            const int64_t n = std::min(g0, in - gi * g0);
            for (int64_t k = 0; k < n; ++k) {
              const int64_t p = pos[gi * g0 + k];
              double v = wr[p];
              if (p >= i2)
                for (int64_t m = i1; m < i; ++m) v -= er[m - i1] * U[m * in + p];
              cur[k] = v;
            }
            gr = IntGroupGrid(f, cur.data(), n);
          }
          const double x = wr[i];
          const uint8_t code = IntCode(f, gr, static_cast<float>(x));
          codes[(r0 + t) * in + c] = code;
          const double e = (x - IntCodeValue(f, gr, code)) / d;
          er[i - i1] = e;
          const double* ui = U + i * in;
          for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * ui[j];
        }
      }
      // The lazy batch update: the block's errors applied to the later blocks.
      for (int64_t m = i1; m < i2; ++m) {
        const double* um = U + m * in;
        for (int64_t t = 0; t < rows; ++t) {
          const double e = err[t * block + m - i1];
          double* wr = wt.data() + t * in;
          for (int64_t j = i2; j < in; ++j) wr[j] -= e * um[j];
        }
      }
    }
  }
  GptqResult res = GptqWeights(f, prob, codes);
  res.damp_used = damp;
  res.factorize_seconds = std::chrono::duration<double>(t1 - t0).count();
  res.columns_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return res;
}

}  // namespace qsweep
