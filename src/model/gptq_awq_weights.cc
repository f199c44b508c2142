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

float Half(const uint8_t* base, int64_t index) {
  uint16_t h;
  std::memcpy(&h, base + 2 * index, 2);
  return F16ToFloat(h);
}

int64_t Groups(const PackedIntFormat& f, int64_t in) { return in / f.group; }

}  // namespace

std::string PackedIntFormat::Describe() const {
  return absl::StrFormat("%s-int%d-g%d", method == PackedIntMethod::kGptq ? "gptq" : "awq", bits, group);
}

PackedIntShapes ExpectedPackedIntShapes(const PackedIntFormat& f, int64_t out, int64_t in) {
  const int64_t p = 32 / f.bits, g = Groups(f, in);
  if (f.method == PackedIntMethod::kGptq) return {{in / p, out}, {g, out / p}, {g, out}};
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
  if (out % p || (f.method == PackedIntMethod::kGptq && in % p))
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
  const int p = 32 / f.bits;
  const uint32_t mask = (1u << f.bits) - 1;
  const int64_t cols = col_end - col_begin;
  const int64_t words_per_row = out_features / p;  // qzeros (both) and AWQ's qweight
#pragma omp parallel for schedule(static) if ((row_end - row_begin) * cols > (1 << 18))
  for (int64_t o = row_begin; o < row_end; ++o) {
    float* dst = out + (o - row_begin) * cols;
    for (int64_t i = col_begin; i < col_end; ++i) {
      const int64_t g = t.g_idx ? static_cast<int32_t>(Word(t.g_idx, i)) : i / f.group;
      uint32_t code, zero;
      if (f.method == PackedIntMethod::kGptq) {
        code = (Word(t.qweight, (i / p) * out_features + o) >> (f.bits * (i % p))) & mask;
        zero = (Word(t.qzeros, g * words_per_row + o / p) >> (f.bits * (o % p))) & mask;
        if (f.zero_plus_one) zero += 1;
      } else {
        const int shift = 4 * kAwqNibble[o % 8];
        code = (Word(t.qweight, i * words_per_row + o / 8) >> shift) & mask;
        zero = (Word(t.qzeros, g * words_per_row + o / 8) >> shift) & mask;
      }
      dst[i - col_begin] = Half(t.scales, g * out_features + o) *
                           static_cast<float>(static_cast<int32_t>(code) - static_cast<int32_t>(zero));
    }
  }
}

std::optional<QuantizedWeights> PackedIntRows(const PackedIntFormat& f, const PackedIntTensors& t,
                                              int64_t out_features, int64_t in_features, int64_t row_begin,
                                              int64_t row_end) {
  if (t.g_idx)
    for (int64_t i = 0; i < in_features; ++i)
      if (static_cast<int32_t>(Word(t.g_idx, i)) != i / f.group) return std::nullopt;
  const int p = 32 / f.bits;
  const uint32_t mask = (1u << f.bits) - 1;
  const int64_t words_per_row = out_features / p, groups = in_features / f.group, rows = row_end - row_begin;
  auto code_zero = [&](int64_t o, int64_t i, int64_t g, uint32_t* code, uint32_t* zero) {
    if (f.method == PackedIntMethod::kGptq) {
      *code = (Word(t.qweight, (i / p) * out_features + o) >> (f.bits * (i % p))) & mask;
      *zero = ((Word(t.qzeros, g * words_per_row + o / p) >> (f.bits * (o % p))) & mask) + (f.zero_plus_one ? 1 : 0);
    } else {
      const int shift = 4 * kAwqNibble[o % 8];
      *code = (Word(t.qweight, i * words_per_row + o / 8) >> shift) & mask;
      *zero = (Word(t.qzeros, g * words_per_row + o / 8) >> shift) & mask;
    }
  };
  QuantizedWeights q;
  q.format.kind = WeightKind::kInt, q.format.bits = f.bits, q.format.asymmetric = true;
  q.format.group = f.group == in_features ? 0 : f.group;
  q.out = rows, q.in = in_features, q.groups = groups;
  std::vector<uint8_t> codes(rows * in_features);
  q.scales.resize(rows * groups);
  q.zeros.resize(rows * groups);
  bool fits = true;
#pragma omp parallel for schedule(static) reduction(&& : fits) if (rows * in_features > (1 << 18))
  for (int64_t o = row_begin; o < row_end; ++o)
    for (int64_t i = 0; i < in_features; ++i) {
      const int64_t g = i / f.group;
      uint32_t code, zero;
      code_zero(o, i, g, &code, &zero);
      codes[(o - row_begin) * in_features + i] = static_cast<uint8_t>(code);
      if (i % f.group == 0) {
        fits = fits && zero <= 255;
        q.zeros[(o - row_begin) * groups + g] = static_cast<uint8_t>(zero);
        uint16_t h;
        std::memcpy(&h, t.scales + 2 * (g * out_features + o), 2);
        q.scales[(o - row_begin) * groups + g] = h;
      }
    }
  if (!fits) return std::nullopt;
  q.codes = PackCodes(codes, rows, in_features, f.bits);
  return q;
}

int64_t PackedIntBytes(const PackedIntFormat& f, int64_t out, int64_t in, bool has_g_idx) {
  const PackedIntShapes s = ExpectedPackedIntShapes(f, out, in);
  return 4 * s.qweight[0] * s.qweight[1] + 4 * s.qzeros[0] * s.qzeros[1] + 2 * s.scales[0] * s.scales[1] +
         (has_g_idx ? 4 * in : 0);
}

}  // namespace qsweep
