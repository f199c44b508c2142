#include "quant/quantized_weights.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/status_macros.h"
#include "quant/bit_packing.h"
#include "quant/codebooks.h"
#include "quant/fp8.h"

namespace qsweep {
namespace {

int NearestCode(const float* table, float v) {
  int best = 0;
  float best_d = std::fabs(v - table[0]);
  for (int c = 1; c < 16; ++c) {
    const float d = std::fabs(v - table[c]);
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

}  // namespace

template <typename T>
static IntGrid GroupGrid(const WeightFormat& f, const T* x, int64_t n, int64_t stride) {
  float absmax = 0, lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(x[i * stride]);
    absmax = std::max(absmax, std::fabs(v));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  IntGrid g;
  if (f.asymmetric) {
    // The range always contains 0 (as GPTQ's quantizer does): the zero
    // point is then an integer in [0, qmax] that fits its uint8, and a
    // group of one sign cannot be clipped by a zero point out of range.
    lo = std::min(lo, 0.0f);
    hi = std::max(hi, 0.0f);
    const int qmax = (1 << f.bits) - 1;
    g.scale_bits = RoundUpToF16((hi - lo) / qmax);
    g.scale = F16ToFloat(g.scale_bits);
    g.zero = g.scale > 0 ? std::clamp(std::rint(-lo / g.scale), 0.0f, static_cast<float>(qmax)) : 0.0f;
  } else {
    g.scale_bits = RoundUpToF16(absmax / ((1 << (f.bits - 1)) - 1));
    g.scale = F16ToFloat(g.scale_bits);
  }
  return g;
}

IntGrid IntGroupGrid(const WeightFormat& f, const float* x, int64_t n, int64_t stride) {
  return GroupGrid(f, x, n, stride);
}
IntGrid IntGroupGrid(const WeightFormat& f, const double* x, int64_t n, int64_t stride) {
  return GroupGrid(f, x, n, stride);
}

uint8_t IntCode(const WeightFormat& f, const IntGrid& g, float v) {
  const float s = g.scale;
  if (f.asymmetric) {
    const float qmax = static_cast<float>((1 << f.bits) - 1);
    return static_cast<uint8_t>(s > 0 ? std::clamp(std::rint(v / s) + g.zero, 0.0f, qmax) : g.zero);
  }
  const int qmax = (1 << (f.bits - 1)) - 1;
  const float q = s > 0 ? std::clamp(std::rint(v / s), static_cast<float>(-qmax - 1), static_cast<float>(qmax)) : 0.0f;
  return static_cast<uint8_t>(static_cast<int>(q) + (1 << (f.bits - 1)));
}

float IntCodeValue(const WeightFormat& f, const IntGrid& g, uint8_t code) {
  return f.asymmetric ? (code - g.zero) * g.scale : (code - (1 << (f.bits - 1))) * g.scale;
}

uint16_t RoundUpToF16(float x) {
  uint16_t h = FloatToF16(x);
  if (F16ToFloat(h) < x) ++h;  // positive fp16 bit patterns increase with value
  return h;
}

float QuantizedWeights::Scale(int64_t row, int64_t group) const { return F16ToFloat(scales[row * groups + group]); }

int64_t QuantizedWeights::packed_bytes() const {
  return static_cast<int64_t>(codes.size() * 4 + scales.size() * 2 + zeros.size());
}

bool ColumnsCutOnGroups(const QuantizedWeights& q, int64_t begin, int64_t end) {
  if (begin < 0 || end > q.in || begin >= end) return false;
  if (q.format.group <= 0) return true;
  const int64_t g = q.format.group;
  return begin % g == 0 && (end % g == 0 || end == q.in);
}

QuantizedWeights SliceQuantizedColumns(const QuantizedWeights& q, int64_t begin, int64_t end) {
  QSWEEP_CHECK(ColumnsCutOnGroups(q, begin, end));
  QuantizedWeights s;
  s.format = q.format;
  s.out = q.out;
  s.in = end - begin;
  // Per channel: the part keeps its rows' one scale. Grouped: the groups
  // [begin / g, ceil(end / g)) of every row.
  const int64_t g0 = q.format.group > 0 ? q.format.group : q.in;
  const int64_t first = begin / g0;
  s.groups = q.format.group > 0 ? (end - begin + g0 - 1) / g0 : 1;
  const std::vector<uint8_t> all = UnpackCodes(q.codes, q.out, q.in, q.format.bits);
  std::vector<uint8_t> codes;
  codes.reserve(s.out * s.in);
  for (int64_t r = 0; r < q.out; ++r) {
    codes.insert(codes.end(), all.begin() + r * q.in + begin, all.begin() + r * q.in + end);
    for (int64_t gi = 0; gi < s.groups; ++gi) {
      s.scales.push_back(q.scales[r * q.groups + first + gi]);
      if (!q.zeros.empty()) s.zeros.push_back(q.zeros[r * q.groups + first + gi]);
    }
  }
  s.codes = PackCodes(codes, s.out, s.in, q.format.bits);
  return s;
}

QuantizedWeights QuantizeWeights(const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in) {
  QSWEEP_CHECK(f.quantized() && static_cast<int64_t>(w.size()) == out * in);
  const int64_t g0 = f.group > 0 ? f.group : in;
  QuantizedWeights q;
  q.format = f;
  q.out = out;
  q.in = in;
  q.groups = (in + g0 - 1) / g0;
  q.scales.resize(out * q.groups);
  if (f.asymmetric) q.zeros.resize(out * q.groups);
  std::vector<uint8_t> codes(out * in);
  const int b = f.bits;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t gi = 0; gi < q.groups; ++gi) {
      const int64_t g = std::min(g0, in - gi * g0);
      const float* x = w.data() + r * in + gi * g0;
      uint8_t* c = codes.data() + r * in + gi * g0;
      float absmax = 0, lo = INFINITY, hi = -INFINITY;
      double abs_sum = 0;
      for (int64_t i = 0; i < g; ++i) {
        absmax = std::max(absmax, std::fabs(x[i]));
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
        abs_sum += std::fabs(x[i]);
      }
      uint16_t& sbits = q.scales[r * q.groups + gi];
      switch (f.kind) {
        case WeightKind::kInt: {
          const IntGrid grid = IntGroupGrid(f, x, g);
          sbits = grid.scale_bits;
          if (f.asymmetric) q.zeros[r * q.groups + gi] = static_cast<uint8_t>(grid.zero);
          for (int64_t i = 0; i < g; ++i) c[i] = IntCode(f, grid, x[i]);
          break;
        }
        case WeightKind::kBinary:
          sbits = FloatToF16(static_cast<float>(abs_sum / g));
          for (int64_t i = 0; i < g; ++i) c[i] = x[i] >= 0 ? 1 : 0;
          break;
        case WeightKind::kTernary: {
          // Ternary weight networks (Li et al., 2016): threshold 0.7·mean|w|,
          // scale = mean |w| of the weights kept.
          const float delta = static_cast<float>(0.7 * abs_sum / g);
          double kept_sum = 0;
          int64_t kept = 0;
          for (int64_t i = 0; i < g; ++i)
            if (std::fabs(x[i]) > delta) {
              kept_sum += std::fabs(x[i]);
              ++kept;
            }
          sbits = FloatToF16(kept ? static_cast<float>(kept_sum / kept) : 0.0f);
          for (int64_t i = 0; i < g; ++i) c[i] = x[i] > delta ? 2 : (x[i] < -delta ? 0 : 1);
          break;
        }
        case WeightKind::kNf4:
        case WeightKind::kFp4: {
          const float* table = f.kind == WeightKind::kNf4 ? kNf4Table : kFp4Table;
          sbits = RoundUpToF16(absmax);
          const float s = F16ToFloat(sbits);
          for (int64_t i = 0; i < g; ++i) c[i] = static_cast<uint8_t>(NearestCode(table, s > 0 ? x[i] / s : 0.0f));
          break;
        }
        case WeightKind::kFp8: {
          sbits = RoundUpToF16(absmax / kFp8E4M3Max);
          const float s = F16ToFloat(sbits);
          for (int64_t i = 0; i < g; ++i) c[i] = FloatToFp8E4M3(s > 0 ? x[i] / s : 0.0f);
          break;
        }
        case WeightKind::kDense:
          QSWEEP_CHECK(false);
      }
    }
  }
  q.codes = PackCodes(codes, out, in, b);
  return q;
}

void DequantizeWeights(const QuantizedWeights& q, std::span<float> w) {
  QSWEEP_CHECK(static_cast<int64_t>(w.size()) == q.out * q.in);
  const WeightFormat& f = q.format;
  const int64_t g = q.group_size(), wpr = PackedWordsPerRow(q.in, f.bits);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < q.out; ++r) {
    const uint32_t* words = q.codes.data() + r * wpr;
    for (int64_t j = 0; j < q.in; ++j) {
      const int64_t gi = j / g;
      const float s = q.Scale(r, gi);
      const int c = UnpackCode(words, j, f.bits);
      float v = 0;
      switch (f.kind) {
        case WeightKind::kInt:
          v = f.asymmetric ? (c - q.zeros[r * q.groups + gi]) * s : (c - (1 << (f.bits - 1))) * s;
          break;
        case WeightKind::kBinary: v = c ? s : -s; break;
        case WeightKind::kTernary: v = (c - 1) * s; break;
        case WeightKind::kNf4: v = kNf4Table[c] * s; break;
        case WeightKind::kFp4: v = kFp4Table[c] * s; break;
        case WeightKind::kFp8: v = Fp8E4M3ToFloat(static_cast<uint8_t>(c)) * s; break;
        case WeightKind::kDense: break;
      }
      w[r * q.in + j] = v;
    }
  }
}

}  // namespace qsweep
