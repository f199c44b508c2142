// GPTQ (Frantar et al. 2022; IST-DASLab/gptq, gptq.py fasterquant): integer
// weights chosen column by column so that each column's rounding error is
// compensated by the columns not yet quantized, minimizing ‖(W − Ŵ)X‖² for
// the calibration inputs X through the Hessian H = 2/n Σ x xᵀ.
//
// As the reference:
//   dead columns (H_ii = 0: an input that is always zero): H_ii = 1, W[:, i] = 0;
//   damping λ = damp · mean diag(H) added to the diagonal; where the Cholesky
//     factorization fails, λ is multiplied by 10 and retried (damp_retries
//     times), and the damping used is reported;
//   U = the upper Cholesky factor of H⁻¹; columns in blocks of `block_size`,
//     the error of each column applied to the rest of its block at once and
//     to the later blocks by one lazy batch update per block;
//   act-order: columns in order of descending diag(H);
//   per channel: one grid per row from the whole (original) W; grouped: a
//     group's grid from the current (error-updated) weights of its columns
//     when its first column is reached; static groups: every group's grid
//     from the weights before any update.
// Where qsweep differs from the reference (each to keep one packed layout,
// quantized_weights.h, that every backend runs):
//   the grid is RTN's (IntGroupGrid): symmetric s = absmax / (2^(b-1) − 1)
//     and fp16 scales rounded up, so |W / s| never exceeds the code range
//     (the reference uses s = 2·absmax / (2^b − 1) with a mid zero point);
//   groups are always runs of g consecutive input columns, so no g_idx is
//     needed; with act-order and without static groups the reference groups
//     g consecutive columns of the permuted order instead, which this layout
//     cannot hold, so a group's grid is computed when the first of its
//     columns (in act order) is reached, from the current values of all its
//     columns;
//   a group's current values include the updates of the earlier columns of
//     the same block (the reference reads them from W, which gets those
//     updates only at the block's end; the two agree when groups and blocks
//     are aligned, e.g. g = 128);
//   the factorization and the updates run in double (the reference: fp32).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/quantized_weights.h"
#include "quant/weight_format.h"

namespace qsweep {

struct GptqOptions {
  double damp = 0.01;  // λ = damp · mean diag(H)
  int damp_retries = 3;  // each ×10 after a failed Cholesky factorization (up to 10 · mean diag)
  int64_t block_size = 128;
  bool act_order = false;
  bool static_groups = false;
};

struct GptqResult {
  QuantizedWeights weights;
  double damp_used = 0;  // the relative damping the factorization succeeded with
  int64_t dead_columns = 0;
  // Time spent: damping and factorizing; the column loop and its updates.
  double factorize_seconds = 0, columns_seconds = 0;
};

// Sums the Hessian of a linear layer's inputs: H = 2/n Σ x xᵀ over n rows,
// accumulated in double, returned in fp32 [in, in].
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t in) : in_(in), sum_(in * in, 0.0) {}
  void Add(const float* x, int64_t rows);  // rows x [in], row-major
  int64_t in_features() const { return in_; }
  int64_t tokens() const { return tokens_; }
  std::vector<float> Hessian() const;

 private:
  int64_t in_, tokens_ = 0;
  std::vector<double> sum_;
};

// W [out, in] quantized to the integer format `f` (w2..w8, sym or asym, per
// channel or grouped; activation-quantized int formats too) with the Hessian
// [in, in] of its inputs. Errors name `name`: a format GPTQ does not cover,
// a Hessian of the wrong size, one that stays singular after the retries.
absl::StatusOr<GptqResult> GptqQuantize(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                        std::span<const float> hessian, const GptqOptions& options,
                                        std::string_view name);

// GptqQuantize's steps before and after its column loop, shared with a
// device's twin of the loop. PrepareGptq checks the arguments (the errors
// above), zeroes dead columns, finds the processing order and the grids
// fixed before the loop (per channel, static groups).
struct GptqProblem {
  int64_t out = 0, in = 0;
  int64_t g0 = 0, groups = 1;  // inputs per group (in: per channel), groups per row
  bool grouped = false;
  std::vector<float> w;          // [out, in] in column order, dead columns zeroed
  std::vector<float> h;          // H [in, in] in processing order, dead diagonals 1, undamped
  std::vector<int64_t> perm, pos;  // perm[i]: the column processed i-th; pos: its inverse
  double mean_diag = 0;          // of h
  std::vector<IntGrid> grid;     // [out][groups]; per channel: [out][1]
  int64_t dead_columns = 0;
};
absl::StatusOr<GptqProblem> PrepareGptq(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                                        std::span<const float> hessian, const GptqOptions& options,
                                        std::string_view name);
// The weights of codes [out, in] (column order) on the problem's grids
// (damp_used left for the caller).
GptqResult GptqWeights(const WeightFormat& f, const GptqProblem& p, const std::vector<uint8_t>& codes);
// The error where every damping of the retries failed (`damp`: the last).
absl::Status GptqSingularError(std::string_view name, int64_t in, double damp, double mean_diag, int retries);

// Where GptqQuantize's work runs: a function of its arguments that returns
// what it returns (a backend's twin on its device); empty: GptqQuantize.
using GptqSolver = std::function<absl::StatusOr<GptqResult>(
    const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in, std::span<const float> hessian,
    const GptqOptions& options, std::string_view name)>;

// Cholesky factorization in place of a symmetric positive definite [n, n]
// matrix: its lower triangle becomes L (A = L Lᵀ); false where a pivot is
// not positive (the matrix is not positive definite to working precision).
bool CholeskyLower(std::vector<double>& a, int64_t n);

}  // namespace qsweep
