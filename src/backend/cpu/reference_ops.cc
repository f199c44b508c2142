#include "backend/cpu/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qsweep::ref {

void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out) {
#pragma omp parallel for schedule(static) if (rows * dim > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double{xr[i]} * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / dim + eps));
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = xr[i] * inv * w[i];
  }
}

void Rotary(float* x, int64_t rows, int64_t n_heads, int64_t head_dim, const float* inv_freq,
            const int32_t* positions) {
  const int64_t half = head_dim / 2;
#pragma omp parallel for schedule(static) if (rows * n_heads * head_dim > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      // Angles in double: positions reach 1e5 and fp32 products lose the phase.
      const double angle = static_cast<double>(positions[r]) * inv_freq[i];
      const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
      for (int64_t h = 0; h < n_heads; ++h) {
        float* xh = x + (r * n_heads + h) * head_dim;
        const float a = xh[i], b = xh[i + half];
        xh[i] = a * c - b * s;
        xh[i + half] = b * c + a * s;
      }
    }
  }
}

// One query head over the keys `keys` of kv head `kvh`: softmax of the
// scaled scores, then the weighted sum of the values.
static void AttendKeys(const float* qr, const float* k, const float* v, const std::vector<int64_t>& keys,
                       int64_t kv_stride, int64_t kvh, int64_t head_dim, std::vector<float>& scores, float* o) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t n = static_cast<int64_t>(keys.size());
  scores.resize(n);
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = k + keys[j] * kv_stride + kvh * head_dim;
    float s = 0;
    for (int64_t d = 0; d < head_dim; ++d) s += qr[d] * kj[d];
    scores[j] = s * scale;
    mx = std::max(mx, scores[j]);
  }
  float denom = 0;
  for (int64_t j = 0; j < n; ++j) denom += scores[j] = std::exp(scores[j] - mx);
  std::fill(o, o + head_dim, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const float p = scores[j] / denom;
    const float* vj = v + keys[j] * kv_stride + kvh * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) o[d] += p * vj[d];
  }
}

// Every (row, query head) of `rows` rows over the keys `keys_of(r, keys)` lists.
template <typename Keys>
static void AttendRows(const float* q, const float* k, const float* v, int64_t rows, int64_t n_q_heads,
                       int64_t n_kv_heads, int64_t head_dim, float* out, Keys keys_of) {
  const int64_t q_stride = n_q_heads * head_dim, kv_stride = n_kv_heads * head_dim;
  const int64_t group = n_q_heads / n_kv_heads;
#pragma omp parallel
  {
    std::vector<int64_t> keys;
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 4) collapse(2)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < n_q_heads; ++h) {
        keys.clear();
        keys_of(r, keys);
        AttendKeys(q + r * q_stride + h * head_dim, k, v, keys, kv_stride, h / group, head_dim, scores,
                   out + r * q_stride + h * head_dim);
      }
    }
  }
}

void Attention(const float* q, const float* k, const float* v, int64_t rows,
               const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin,
               int64_t n_q_heads, int64_t n_kv_heads, int64_t head_dim, float* out) {
  AttendRows(q, k, v, rows, n_q_heads, n_kv_heads, head_dim, out, [&](int64_t r, std::vector<int64_t>& keys) {
    for (int64_t j = seq_begin[r]; j < prefix_end[r]; ++j) keys.push_back(j);
    for (int64_t j = branch_begin[r]; j <= r; ++j) keys.push_back(j);
  });
}

void CachedAttention(const float* q, const float* k, const float* v, int64_t rows, const int64_t* key_begin,
                     const int64_t* key_end, int64_t n_q_heads, int64_t n_kv_heads, int64_t head_dim, float* out) {
  AttendRows(q, k, v, rows, n_q_heads, n_kv_heads, head_dim, out, [&](int64_t r, std::vector<int64_t>& keys) {
    for (int64_t j = key_begin[r]; j < key_end[r]; ++j) keys.push_back(j);
  });
}

void CausalAttention(const float* q, const float* k, const float* v,
                     std::span<const int64_t> offsets, int64_t n_q_heads, int64_t n_kv_heads,
                     int64_t head_dim, float* out) {
  const int64_t rows = offsets.empty() ? 0 : offsets.back();
  std::vector<int64_t> begin(rows);
  for (size_t s = 0; s + 1 < offsets.size(); ++s)
    for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) begin[r] = offsets[s];
  Attention(q, k, v, rows, begin.data(), begin.data(), begin.data(), n_q_heads, n_kv_heads,
            head_dim, out);
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

PairRow PairLogitRow(const float* b, const float* c, int64_t n, int32_t target_local) {
  PairRow r;
  r.base_max = -INFINITY;
  r.cand_max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (b[i] > r.base_max) {
      r.base_max = b[i];
      r.base_argmax = static_cast<int32_t>(i);
    }
    if (c[i] > r.cand_max) r.cand_max = c[i];
  }
  const double mb = r.base_max, mc = r.cand_max;
  for (int64_t i = 0; i < n; ++i) {
    const double bi = b[i], ci = c[i], eb = std::exp(bi - mb), ec = std::exp(ci - mc);
    r.base_sum += eb;
    r.cand_sum += ec;
    r.base_dot += eb * (bi - ci);
    r.cand_dot += ec * (ci - bi);
  }
  r.base_target_logit = target_local >= 0 && target_local < n ? b[target_local] : NAN;
  return r;
}

void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    float v[64];
    for (int r = 0; r < ranks; ++r) v[r] = all[r * n + j];
    for (int stride = 1; stride < ranks; stride *= 2)
      for (int i = 0; i + stride < ranks; i += 2 * stride) v[i] += v[i + stride];
    out[j] = v[0];
  }
}

}  // namespace qsweep::ref
