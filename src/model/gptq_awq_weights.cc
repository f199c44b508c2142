#include "model/gptq_awq_weights.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "quant/bit_packing.h"

namespace qsweep {
namespace {

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// Column r of a word is held by nibble kAwqNibble[r] (the inverse of kAwqOrder).
constexpr int kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7};
static_assert(kAwqOrder[kAwqNibble[3]] == 3 && kAwqOrder[kAwqNibble[6]] == 6);

uint32_t Word(const uint8_t* base, int64_t index) {
  uint32_t w;
  std::memcpy(&w, base + 4 * index, 4);
  return w;
}

int64_t Groups(const PackedIntFormat& f, int64_t in) { return in / f.group; }
int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Where each layout keeps code (i, o), zero (g, o) and scale (g, o).
struct Reader {
  const PackedIntFormat& f;
  const PackedIntTensors& t;
  int64_t out, in;
  int p() const { return 32 / f.bits; }
  uint32_t mask() const { return (1u << f.bits) - 1; }
  uint32_t Code(int64_t o, int64_t i) const {
    switch (f.method) {
      case PackedIntMethod::kGptq: return (Word(t.qweight, (i / p()) * out + o) >> (f.bits * (i % p()))) & mask();
      case PackedIntMethod::kAwq: return (Word(t.qweight, i * (out / 8) + o / 8) >> (4 * kAwqNibble[o % 8])) & mask();
      case PackedIntMethod::kCompressed:
        return (Word(t.qweight, o * CeilDiv(in, p()) + i / p()) >> (f.bits * (i % p()))) & mask();
    }
    return 0;
  }
  uint32_t Zero(int64_t o, int64_t g) const {
    switch (f.method) {
      case PackedIntMethod::kGptq:
        return ((Word(t.qzeros, g * (out / p()) + o / p()) >> (f.bits * (o % p()))) & mask()) + (f.zero_plus_one ? 1 : 0);
      case PackedIntMethod::kAwq: return (Word(t.qzeros, g * (out / 8) + o / 8) >> (4 * kAwqNibble[o % 8])) & mask();
      case PackedIntMethod::kCompressed:
        if (f.symmetric) return 1u << (f.bits - 1);
        return (Word(t.qzeros, (o / p()) * Groups(f, in) + g) >> (f.bits * (o % p()))) & mask();
    }
    return 0;
  }
  int64_t ScaleIndex(int64_t o, int64_t g) const {
    return f.method == PackedIntMethod::kCompressed ? o * Groups(f, in) + g : g * out + o;
  }
  float Scale(int64_t o, int64_t g) const {
    const int64_t at = ScaleIndex(o, g);
    uint16_t h;
    switch (t.scale_dtype) {
      case DType::kF32: {
        float v;
        std::memcpy(&v, t.scales + 4 * at, 4);
        return v;
      }
      case DType::kBF16: std::memcpy(&h, t.scales + 2 * at, 2); return BF16ToFloat(h);
      default: std::memcpy(&h, t.scales + 2 * at, 2); return F16ToFloat(h);
    }
  }
  int64_t Group(int64_t i) const { return t.g_idx ? static_cast<int32_t>(Word(t.g_idx, i)) : i / f.group; }
};

}  // namespace

std::string PackedIntFormat::Describe() const {
  const char* name = method == PackedIntMethod::kGptq ? "gptq" : method == PackedIntMethod::kAwq ? "awq" : "ct";
  return absl::StrFormat("%s-int%d-g%d", name, bits, group);
}

PackedIntShapes ExpectedPackedIntShapes(const PackedIntFormat& f, int64_t out, int64_t in) {
  const int64_t p = 32 / f.bits, g = Groups(f, in);
  if (f.method == PackedIntMethod::kGptq) return {{in / p, out}, {g, out / p}, {g, out}};
  if (f.method == PackedIntMethod::kCompressed)
    return {{out, CeilDiv(in, p)}, {f.symmetric ? 0 : CeilDiv(out, p), f.symmetric ? 0 : g}, {out, g}};
  return {{in, out / p}, {g, out / p}, {g, out}};
}

absl::Status CheckPackedIntLayer(const PackedIntFormat& f, int64_t out, int64_t in, const std::string& tensor) {
  if (f.bits != 2 && f.bits != 4 && f.bits != 8)
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d-bit codes are not supported (2, 4, 8 are)", tensor, f.bits));
  if (f.method == PackedIntMethod::kAwq && f.bits != 4)
    return absl::InvalidArgumentError(absl::StrFormat("%s: AWQ packs 4-bit codes, not %d-bit", tensor, f.bits));
  const int64_t p = 32 / f.bits;
  if (f.group < 1 || in % f.group)
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: group size %d does not divide its %d input features", tensor, f.group, in));
  if (f.method != PackedIntMethod::kCompressed && (out % p || (f.method == PackedIntMethod::kGptq && in % p)))
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: [%d, %d] does not pack into 32-bit words of %d codes", tensor, out, in, p));
  return absl::OkStatus();
}

absl::Status CheckGroupIndex(const PackedIntFormat& f, const uint8_t* g_idx, int64_t in, const std::string& tensor) {
  const int64_t groups = Groups(f, in);
  for (int64_t i = 0; i < in; ++i) {
    const int32_t g = static_cast<int32_t>(Word(g_idx, i));
    if (g < 0 || g >= groups)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: g_idx[%d] is %d, outside the %d groups", tensor, i, g, groups));
  }
  return absl::OkStatus();
}

void DequantizePackedInt(const PackedIntFormat& f, const PackedIntTensors& t, int64_t out_features,
                         int64_t in_features, int64_t row_begin, int64_t row_end, int64_t col_begin,
                         int64_t col_end, float* out) {
  const Reader r{f, t, out_features, in_features};
  const int64_t cols = col_end - col_begin;
#pragma omp parallel for schedule(static) if ((row_end - row_begin) * cols > (1 << 18))
  for (int64_t o = row_begin; o < row_end; ++o) {
    float* dst = out + (o - row_begin) * cols;
    for (int64_t i = col_begin; i < col_end; ++i) {
      const int64_t g = r.Group(i);
      dst[i - col_begin] = r.Scale(o, g) * static_cast<float>(static_cast<int32_t>(r.Code(o, i)) -
                                                              static_cast<int32_t>(r.Zero(o, g)));
    }
  }
}

std::optional<QuantizedWeights> PackedIntRows(const PackedIntFormat& f, const PackedIntTensors& t,
                                              int64_t out_features, int64_t in_features, int64_t row_begin,
                                              int64_t row_end) {
  const Reader r{f, t, out_features, in_features};
  for (int64_t i = 0; t.g_idx && i < in_features; ++i)
    if (r.Group(i) != i / f.group) return std::nullopt;
  const int64_t groups = Groups(f, in_features), rows = row_end - row_begin;
  QuantizedWeights q;
  q.format.kind = WeightKind::kInt, q.format.bits = f.bits;
  // A symmetric layout's zero is qsweep's symmetric offset 2^(bits-1).
  q.format.asymmetric = !(f.method == PackedIntMethod::kCompressed && f.symmetric);
  q.format.group = f.group == in_features ? 0 : f.group;
  q.out = rows, q.in = in_features, q.groups = groups;
  std::vector<uint8_t> codes(rows * in_features);
  q.scales.resize(rows * groups);
  if (q.format.asymmetric) q.zeros.resize(rows * groups);
  bool fits = true;
#pragma omp parallel for schedule(static) reduction(&& : fits) if (rows * in_features > (1 << 18))
  for (int64_t o = row_begin; o < row_end; ++o) {
    for (int64_t i = 0; i < in_features; ++i) codes[(o - row_begin) * in_features + i] = static_cast<uint8_t>(r.Code(o, i));
    for (int64_t g = 0; g < groups; ++g) {
      // The scale as fp16 bits, where fp16 holds it exactly (bf16 and fp32
      // scales of compressed-tensors mostly do).
      const float s = r.Scale(o, g);
      const uint16_t h = FloatToF16(s);
      const uint32_t zero = r.Zero(o, g);
      fits = fits && F16ToFloat(h) == s && zero <= 255;
      q.scales[(o - row_begin) * groups + g] = h;
      if (q.format.asymmetric) q.zeros[(o - row_begin) * groups + g] = static_cast<uint8_t>(zero);
    }
  }
  if (!fits) return std::nullopt;
  q.codes = PackCodes(codes, rows, in_features, f.bits);
  return q;
}

}  // namespace qsweep
