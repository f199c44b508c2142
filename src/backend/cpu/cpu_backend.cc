#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <numeric>

#include "absl/strings/str_format.h"
#include "backend/cpu/cpu_linear.h"
#include "backend/cpu/reference_ops.h"
#include "core/status_macros.h"
#include "quant/quantized_weights.h"

namespace qsweep {
namespace {

class HostArray : public DeviceArray {
 public:
  explicit HostArray(std::span<const float> v) : data_(v.begin(), v.end()) {}
  int64_t size() const override { return static_cast<int64_t>(data_.size()); }
  const float* data() const { return data_.data(); }

 private:
  std::vector<float> data_;
};

const float* F(const Act& a) { return static_cast<const float*>(a.data); }
float* F(Act& a) { return static_cast<float*>(a.data); }
const float* F(const DeviceArray& a) { return static_cast<const HostArray&>(a).data(); }

}  // namespace

absl::StatusOr<Act> CpuBackend::Alloc(int64_t rows, int64_t cols, ActRole, std::string_view what) {
  Act a;
  a.rows = rows;
  a.cols = cols;
  a.data = new (std::nothrow) float[std::max<int64_t>(1, rows * cols)]();
  if (!a.data)
    return absl::ResourceExhaustedError(
        absl::StrFormat("out of host memory for %s: %d x %d fp32 (%.2f GiB)", what, rows, cols,
                        rows * cols * 4.0 / (1 << 30)));
  return a;
}

void CpuBackend::Free(Act& a) {
  delete[] static_cast<float*>(a.data);
  a = Act{};
}

absl::StatusOr<std::unique_ptr<DeviceArray>> CpuBackend::Upload(std::span<const float> values) {
  return std::make_unique<HostArray>(values);
}

std::vector<float> CpuBackend::Download(const Act& a) {
  return std::vector<float>(F(a), F(a) + a.rows * a.cols);
}

void CpuBackend::UploadTo(std::span<const float> values, Act& a) {
  QSWEEP_CHECK(static_cast<int64_t>(values.size()) <= a.rows * a.cols);
  std::copy(values.begin(), values.end(), F(a));
}

absl::StatusOr<std::unique_ptr<Linear>> CpuBackend::CreateLinear(std::string_view, LinearRole,
                                                                 std::unique_ptr<PackedLinear> w) {
  return std::make_unique<CpuLinear>(std::move(w));
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CpuBackend::CreateLinearParts(
    std::string_view, std::vector<std::unique_ptr<PackedLinear>> parts) {
  std::vector<std::unique_ptr<Linear>> linears;
  for (auto& p : parts) linears.push_back(std::make_unique<CpuLinear>(std::move(p)));
  return linears;
}

std::unique_ptr<Linear> CpuBackend::ShareLinear(const Linear& l, bool) {
  return std::make_unique<CpuLinear>(static_cast<const CpuLinear&>(l).packed());
}

absl::StatusOr<std::vector<std::unique_ptr<Linear>>> CpuBackend::QuantizeLinearParts(
    std::string_view name, LinearRole, std::span<const std::unique_ptr<Linear>> dense, const WeightFormat& format,
    const AwqTransform& transform) {
  QSWEEP_CHECK(!dense.empty() && format.quantized() && format.act == ActKind::kNone);
  const int64_t out = dense[0]->out_features(), width = dense[0]->in_features();
  const int64_t count = static_cast<int64_t>(dense.size()), in = count * width;
  std::vector<float> whole(out * in), part(out * width);
  for (int64_t p = 0; p < count; ++p) {
    const PackedLinear& d = *static_cast<const CpuLinear&>(*dense[p]).packed();
    QSWEEP_CHECK(!d.format().quantized() && d.out_features() == out && d.in_features() == width);
    d.Dequantize(part);
    for (int64_t r = 0; r < out; ++r)
      std::copy_n(part.data() + r * width, width, whole.data() + r * in + p * width);
  }
  if (!transform.column_scales.empty()) ScaleColumns(whole, transform.column_scales);
  if (!transform.clip.empty()) {
    const int64_t g0 = format.group > 0 ? std::min<int64_t>(format.group, in) : in, groups = (in + g0 - 1) / g0;
    QSWEEP_CHECK(static_cast<int64_t>(transform.clip.size()) == out * groups);
    for (int64_t r = 0; r < out; ++r)
      for (int64_t j = 0; j < in; ++j) {
        const float c = transform.clip[r * groups + j / g0];
        whole[r * in + j] = std::clamp(whole[r * in + j], -c, c);
      }
  }
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q, QuantizeLinear(format, std::move(whole), out, in));
  std::vector<std::unique_ptr<Linear>> linears;
  if (count == 1) {
    linears.push_back(std::make_unique<CpuLinear>(std::move(q)));
    return linears;
  }
  for (int64_t p = 0; p < count; ++p) {
    if (!ColumnsCutOnGroups(*q->quantized_weights(), p * width, (p + 1) * width))
      return absl::InvalidArgumentError(absl::StrFormat("%s: %d parts of %d columns do not cut %s's groups", name,
                                                        count, width, format.Describe()));
    linears.push_back(std::make_unique<CpuLinear>(q->SliceColumns(p * width, (p + 1) * width)));
  }
  return linears;
}

void CpuBackend::Embed(const DeviceArray& table, int64_t dim, std::span<const int32_t> ids,
                       Act& out) {
  QSWEEP_CHECK(out.cols == dim && out.rows >= static_cast<int64_t>(ids.size()));
  const int64_t vocab = table.size() / dim;
  for (size_t r = 0; r < ids.size(); ++r) {
    QSWEEP_CHECK(ids[r] >= 0 && ids[r] < vocab);
    std::memcpy(F(out) + r * dim, F(table) + int64_t{ids[r]} * dim, dim * sizeof(float));
  }
}

void CpuBackend::RmsNorm(const Act& x, const DeviceArray& w, float eps, Act& out) {
  ref::RmsNorm(F(x), F(w), x.rows, x.cols, eps, F(out));
}

void CpuBackend::Matmul(const Linear& l, const Act& x, Act& y) {
  QSWEEP_CHECK(x.cols == l.in_features() && y.cols == l.out_features() && y.rows == x.rows);
  static_cast<const CpuLinear&>(l).Forward(F(x), x.rows, F(y));
}

void CpuBackend::AddBias(const DeviceArray& b, Act& y) {
  QSWEEP_CHECK(b.size() == y.cols);
  for (int64_t r = 0; r < y.rows; ++r)
    for (int64_t c = 0; c < y.cols; ++c) F(y)[r * y.cols + c] += F(b)[c];
}

void CpuBackend::Add(const Act& x, Act& y) {
  QSWEEP_CHECK(x.rows == y.rows && x.cols == y.cols);
  const int64_t n = x.rows * x.cols;
  for (int64_t i = 0; i < n; ++i) F(y)[i] += F(x)[i];
}

void CpuBackend::Rotary(const DeviceArray& inv_freq, int64_t head_dim, Act& x) {
  QSWEEP_CHECK(static_cast<int64_t>(layout_.positions.size()) >= x.rows);
  ref::Rotary(F(x), x.rows, x.cols / head_dim, head_dim, F(inv_freq), layout_.positions.data());
}

void CpuBackend::Attention(const Act& q, const Act& k, const Act& v, int64_t head_dim, Act& out) {
  QSWEEP_CHECK(layout_.rows() == q.rows);
  ref::Attention(F(q), F(k), F(v), q.rows, layout_.seq_begin.data(), layout_.prefix_end.data(),
                 layout_.branch_begin.data(), q.cols / head_dim, k.cols / head_dim, head_dim, F(out));
}

void CpuBackend::WriteCache(const Act& x, Act& cache) {
  QSWEEP_CHECK(layout_.rows() == x.rows && static_cast<int64_t>(layout_.cache_row.size()) == x.rows &&
               x.cols == cache.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    const int64_t dst = layout_.cache_row[r];
    if (dst < 0) continue;
    QSWEEP_CHECK(dst < cache.rows);
    std::memcpy(F(cache) + dst * x.cols, F(x) + r * x.cols, x.cols * sizeof(float));
  }
}

void CpuBackend::CachedAttention(const Act& q, const Act& k_cache, const Act& v_cache, int64_t head_dim, Act& out) {
  QSWEEP_CHECK(layout_.rows() == q.rows && layout_.reads_cache() && layout_.writes_cache());
  std::vector<int64_t> end(q.rows);
  for (int64_t r = 0; r < q.rows; ++r) {
    QSWEEP_CHECK(0 <= layout_.cache_begin[r] && layout_.cache_begin[r] <= layout_.cache_row[r] &&
                 layout_.cache_row[r] < k_cache.rows);
    end[r] = layout_.cache_row[r] + 1;
  }
  ref::CachedAttention(F(q), F(k_cache), F(v_cache), q.rows, layout_.cache_begin.data(), end.data(),
                       q.cols / head_dim, k_cache.cols / head_dim, head_dim, F(out));
}

void CpuBackend::SwiGlu(const Act& gate, const Act& up, Act& out) {
  ref::SwiGlu(F(gate), F(up), gate.rows * gate.cols, F(out));
}

void CpuBackend::GatherRows(const Act& x, std::span<const int64_t> rows, Act& out) {
  QSWEEP_CHECK(out.cols == x.cols && out.rows >= static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(F(out) + i * x.cols, F(x) + rows[i] * x.cols, x.cols * sizeof(float));
}

void RowLogitStatistics(const float* logits, int64_t n, int32_t target_local, int k,
                        int64_t vocab_begin, float* max, float* sum_exp, float* target_logit,
                        int32_t* topk_id, float* topk_logit) {
  const float mx = *std::max_element(logits, logits + n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double{logits[i]} - mx);
  *max = mx;
  *sum_exp = static_cast<float>(s);
  *target_logit = target_local >= 0 && target_local < n ? logits[target_local] : NAN;
  if (k <= 0) return;
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  const int64_t kk = std::min<int64_t>(k, n);
  std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(),
                    [&](int32_t a, int32_t b) { return TopKBefore(logits[a], a, logits[b], b); });
  for (int i = 0; i < k; ++i) {
    topk_id[i] = i < kk ? static_cast<int32_t>(idx[i] + vocab_begin) : -1;
    topk_logit[i] = i < kk ? logits[idx[i]] : -INFINITY;
  }
}

void CpuBackend::SliceColumns(const Act& x, int64_t begin, Act& out) {
  QSWEEP_CHECK(out.rows == x.rows && begin + out.cols <= x.cols);
  for (int64_t r = 0; r < x.rows; ++r)
    std::memcpy(F(out) + r * out.cols, F(x) + r * x.cols + begin, out.cols * sizeof(float));
}

void CpuBackend::LogitStatistics(const Act& logits, int64_t col_begin, int64_t col_end,
                                 std::span<const int32_t> targets, int k, bool full_rows,
                                 int64_t vocab_begin, LogitStats* out) {
  const int64_t n = static_cast<int64_t>(targets.size()), v = col_end - col_begin;
  const int64_t stride = logits.cols;
  const float* base = F(logits) + col_begin;
  out->vocab_begin = vocab_begin;
  out->max.assign(n, 0);
  out->sum_exp.assign(n, 0);
  out->target_logit.assign(n, 0);
  out->topk_id.assign(n * k, -1);
  out->topk_logit.assign(n * k, 0);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const int64_t local = targets[r] - vocab_begin;
    RowLogitStatistics(base + r * stride, v, local >= 0 && local < v ? int32_t(local) : -1, k,
                       vocab_begin, &out->max[r], &out->sum_exp[r], &out->target_logit[r],
                       out->topk_id.data() + r * k, out->topk_logit.data() + r * k);
  }
  if (full_rows)
    for (int64_t r = 0; r < n; ++r) out->logits.insert(out->logits.end(), base + r * stride, base + r * stride + v);
}

void CpuBackend::PairLogitStatistics(const Act& base, const Act& cand, int64_t col_begin, int64_t col_end,
                                     std::span<const int32_t> targets, int64_t vocab_begin, LogitStats* out) {
  const int64_t n = static_cast<int64_t>(targets.size()), v = col_end - col_begin;
  QSWEEP_CHECK(base.cols == cand.cols && base.rows >= n && cand.rows >= n);
  ForEachPairArray([n](auto& a) { a.assign(n, {}); }, *out);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const int64_t local = targets[r] - vocab_begin;
    const ref::PairRow p = ref::PairLogitRow(F(base) + r * base.cols + col_begin, F(cand) + r * cand.cols + col_begin,
                                             v, local >= 0 && local < v ? int32_t(local) : -1);
    out->base_max[r] = p.base_max;
    out->base_argmax[r] = p.base_argmax < 0 ? -1 : static_cast<int32_t>(p.base_argmax + vocab_begin);
    out->base_target_logit[r] = p.base_target_logit;
    out->cand_max[r] = p.cand_max;
    out->base_sum[r] = p.base_sum;
    out->cand_sum[r] = p.cand_sum;
    out->base_dot[r] = p.base_dot;
    out->cand_dot[r] = p.cand_dot;
  }
}

void CpuBackend::AllReduceSum(Act& x) {
  if (all_reduce_) all_reduce_(F(x), x.rows * x.cols);
}

}  // namespace qsweep
