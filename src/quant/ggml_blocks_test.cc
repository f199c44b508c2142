// DequantizeGgml against a plain transcription of ggml's reference
// dequantize_row_* loops (ggml-quants.c), written here over raw byte offsets
// with this file's own fp16 decoder, so that neither the library's block
// structs nor core/dtype.h's converter check themselves.
#include "quant/ggml_blocks.h"

#include "quant/bit_packing.h"
#include "quant/quantized_weights.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

// IEEE binary16 -> binary32 by arithmetic (exact: every half is a float).
float RefHalf(const uint8_t* p) {
  const unsigned h = p[0] | (p[1] << 8);
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 31, man = h & 1023;
  double v;
  if (exp == 0) {
    v = std::ldexp(static_cast<double>(man), -24);
  } else if (exp == 31) {
    v = man ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<double>(1024 + man), exp - 25);
  }
  return static_cast<float>(sign ? -v : v);
}

uint32_t RefU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// ---- ggml's reference loops, block by block (x: the block's bytes) ----

void RefQ4_0(const uint8_t* x, float* y) {
  const float d = RefHalf(x);
  const uint8_t* qs = x + 2;
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = x0 * d;
    y[j + 16] = x1 * d;
  }
}

void RefQ4_1(const uint8_t* x, float* y) {
  const float d = RefHalf(x), m = RefHalf(x + 2);
  const uint8_t* qs = x + 4;
  for (int j = 0; j < 16; ++j) {
    const int x0 = qs[j] & 0x0F;
    const int x1 = qs[j] >> 4;
    y[j] = x0 * d + m;
    y[j + 16] = x1 * d + m;
  }
}

void RefQ5_0(const uint8_t* x, float* y) {
  const float d = RefHalf(x);
  const uint32_t qh = RefU32(x + 2);
  const uint8_t* qs = x + 6;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
    const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
    const int32_t x0 = ((qs[j] & 0x0F) | xh_0) - 16;
    const int32_t x1 = ((qs[j] >> 4) | xh_1) - 16;
    y[j] = x0 * d;
    y[j + 16] = x1 * d;
  }
}

void RefQ5_1(const uint8_t* x, float* y) {
  const float d = RefHalf(x), m = RefHalf(x + 2);
  const uint32_t qh = RefU32(x + 4);
  const uint8_t* qs = x + 8;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
    const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
    const int x0 = (qs[j] & 0x0F) | xh_0;
    const int x1 = (qs[j] >> 4) | xh_1;
    y[j] = x0 * d + m;
    y[j + 16] = x1 * d + m;
  }
}

void RefQ8_0(const uint8_t* x, float* y) {
  const float d = RefHalf(x);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<int8_t>(x[2 + j]) * d;
}

void RefQ2_K(const uint8_t* x, float* y) {
  const uint8_t* scales = x;
  const uint8_t* q = x + 16;
  const float d = RefHalf(x + 80), min = RefHalf(x + 82);
  int is = 0;
  float dl, ml;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc = scales[is++];
      dl = d * (sc & 0xF);
      ml = min * (sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
      sc = scales[is++];
      dl = d * (sc & 0xF);
      ml = min * (sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
      shift += 2;
    }
    q += 32;
  }
}

// ggml's aux[] unpacking of Q3_K's 12 scale bytes into 16 int8 scales.
void RefQ3Scales(const uint8_t* s12, int8_t* scales) {
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t aux[4] = {RefU32(s12), RefU32(s12 + 4), RefU32(s12 + 8), 0};
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  for (int i = 0; i < 16; ++i) scales[i] = static_cast<int8_t>((aux[i / 4] >> (8 * (i % 4))) & 0xFF);
}

void RefQ3_K(const uint8_t* x, float* y) {
  const uint8_t* hm = x;
  const uint8_t* q = x + 32;
  int8_t scales[16];
  RefQ3Scales(x + 96, scales);
  const float d_all = RefHalf(x + 108);
  uint8_t m = 1;
  int is = 0;
  float dl;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      dl = d_all * (scales[is++] - 32);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
      dl = d_all * (scales[is++] - 32);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
      shift += 2;
      m <<= 1;
    }
    q += 32;
  }
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

void RefQ4_K(const uint8_t* x, float* y) {
  const float d = RefHalf(x), min = RefHalf(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* q = x + 16;
  int is = 0;
  uint8_t sc, m;
  for (int j = 0; j < 256; j += 64) {
    get_scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * sc;
    const float m1 = min * m;
    get_scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc;
    const float m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

void RefQ5_K(const uint8_t* x, float* y) {
  const float d = RefHalf(x), min = RefHalf(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* qh = x + 16;
  const uint8_t* ql = x + 48;
  int is = 0;
  uint8_t sc, m;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64) {
    get_scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * sc;
    const float m1 = min * m;
    get_scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc;
    const float m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 <<= 2;
    u2 <<= 2;
  }
}

void RefQ6_K(const uint8_t* x, float* y) {
  const uint8_t* ql = x;
  const uint8_t* qh = x + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
  const float d = RefHalf(x + 208);
  for (int n = 0; n < 256; n += 128) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * sc[is + 0] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// IQ4_NL / IQ4_XS (dequantize_row_iq4_nl / _iq4_xs), over byte offsets:
// NL = d at 0, nibbles at 2; XS = d at 0, scales_h (u16) at 2, scales_l at
// 4..7, nibbles at 8.
const int kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
void RefIq4Nl(const uint8_t* x, float* y) {
  const float d = RefHalf(x);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * kIq4[x[2 + j] & 0xf];
    y[j + 16] = d * kIq4[x[2 + j] >> 4];
  }
}
void RefIq4Xs(const uint8_t* x, float* y) {
  const float d = RefHalf(x);
  const unsigned scales_h = x[2] | (x[3] << 8);
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = ((x[4 + ib / 2] >> 4 * (ib % 2)) & 0xf) | (((scales_h >> 2 * ib) & 3) << 4);
    const float dl = d * (ls - 32);
    const uint8_t* qs = x + 8 + 16 * ib;
    for (int j = 0; j < 16; ++j) {
      y[32 * ib + j] = dl * kIq4[qs[j] & 0xf];
      y[32 * ib + j + 16] = dl * kIq4[qs[j] >> 4];
    }
  }
}

void RefF32(const uint8_t* x, float* y) { std::memcpy(y, x, 4); }
void RefF16(const uint8_t* x, float* y) { *y = RefHalf(x); }
void RefBF16(const uint8_t* x, float* y) {
  const uint32_t u = (uint32_t{x[0]} << 16) | (uint32_t{x[1]} << 24);
  std::memcpy(y, &u, 4);
}

// ---- the formats under test: sizes, fp16 field offsets, reference ----

struct Format {
  GgmlType type;
  const char* name;
  int weights, bytes;
  std::vector<int> half_offsets;  // fp16 fields of a block, drawn finite
  void (*ref)(const uint8_t*, float*);
};

const std::vector<Format>& Formats() {
  static const std::vector<Format> f = {
      {GgmlType::kQ4_0, "Q4_0", 32, 18, {0}, RefQ4_0},
      {GgmlType::kQ4_1, "Q4_1", 32, 20, {0, 2}, RefQ4_1},
      {GgmlType::kQ5_0, "Q5_0", 32, 22, {0}, RefQ5_0},
      {GgmlType::kQ5_1, "Q5_1", 32, 24, {0, 2}, RefQ5_1},
      {GgmlType::kQ8_0, "Q8_0", 32, 34, {0}, RefQ8_0},
      {GgmlType::kQ2_K, "Q2_K", 256, 84, {80, 82}, RefQ2_K},
      {GgmlType::kQ3_K, "Q3_K", 256, 110, {108}, RefQ3_K},
      {GgmlType::kQ4_K, "Q4_K", 256, 144, {0, 2}, RefQ4_K},
      {GgmlType::kQ5_K, "Q5_K", 256, 176, {0, 2}, RefQ5_K},
      {GgmlType::kQ6_K, "Q6_K", 256, 210, {208}, RefQ6_K},
      {GgmlType::kIq4Nl, "IQ4_NL", 32, 18, {0}, RefIq4Nl},
      {GgmlType::kIq4Xs, "IQ4_XS", 256, 136, {0}, RefIq4Xs},
      {GgmlType::kF32, "F32", 1, 4, {}, RefF32},
      {GgmlType::kF16, "F16", 1, 2, {0}, RefF16},  // elements finite too
      {GgmlType::kBF16, "BF16", 1, 2, {}, RefBF16},
  };
  return f;
}

// A finite fp16: a quarter subnormal (or zero), the rest normal; either sign.
uint16_t RandomFiniteHalf(std::mt19937& rng) {
  const uint16_t sign = (rng() & 1) ? 0x8000 : 0;
  const uint16_t man = rng() & 0x3ff;
  const uint16_t exp = (rng() % 4 == 0) ? 0 : static_cast<uint16_t>(1 + rng() % 30);
  return static_cast<uint16_t>(sign | (exp << 10) | man);
}

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }

TEST(GgmlBlocks, RandomBlocksMatchReferenceBitForBit) {
  std::mt19937 rng(20240611);
  for (const auto& f : Formats()) {
    SCOPED_TRACE(f.name);
    for (int trial = 0; trial < 40; ++trial) {
      const int nb = 1 + static_cast<int>(rng() % 7) * (f.weights == 1 ? 37 : 1);
      const int misalign = static_cast<int>(rng() % 4);  // blocks at any byte offset
      std::vector<uint8_t> buf(misalign + static_cast<size_t>(nb) * f.bytes);
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
      uint8_t* blocks = buf.data() + misalign;
      for (int i = 0; i < nb; ++i) {
        for (int off : f.half_offsets) {
          const uint16_t h = RandomFiniteHalf(rng);
          blocks[i * f.bytes + off] = static_cast<uint8_t>(h & 0xFF);
          blocks[i * f.bytes + off + 1] = static_cast<uint8_t>(h >> 8);
        }
      }
      const int64_t n = int64_t{nb} * f.weights;
      std::vector<float> want(n), got(n, -1.0f);
      for (int i = 0; i < nb; ++i) f.ref(blocks + i * f.bytes, want.data() + int64_t{i} * f.weights);
      DequantizeGgml(f.type, blocks, n, got.data());
      int mismatches = 0;
      for (int64_t k = 0; k < n && mismatches < 5; ++k) {
        if (Bits(got[k]) != Bits(want[k])) {
          ++mismatches;
          ADD_FAILURE() << "weight " << k << " (block " << k / f.weights << "): got " << got[k] << " (0x"
                        << std::hex << Bits(got[k]) << "), want " << want[k] << " (0x" << Bits(want[k])
                        << std::dec << ")";
        }
      }
      EXPECT_EQ(std::memcmp(got.data(), want.data(), n * sizeof(float)), 0);
    }
  }
}

// Q4_0, Q5_0 and Q8_0 as qsweep's symmetric integer formats (g32): the codes
// and scales read out of random blocks, packed and dequantized by
// quantized_weights.h, give the reference's weights bit for bit.
TEST(GgmlBlocks, SymmetricTypesAreQsweepsIntFormats) {
  std::mt19937 rng(77);
  int checked = 0;
  for (const auto& f : Formats()) {
    const int bits = GgmlSymmetricIntBits(f.type);
    if (bits == 0) continue;
    SCOPED_TRACE(f.name);
    ++checked;
    for (int trial = 0; trial < 20; ++trial) {
      const int nb = 1 + static_cast<int>(rng() % 9), rows = 1 + static_cast<int>(rng() % 3);
      const int64_t n = int64_t{nb} * 32;
      std::vector<uint8_t> buf(static_cast<size_t>(rows) * nb * f.bytes);
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
      for (int i = 0; i < rows * nb; ++i) {
        const uint16_t h = RandomFiniteHalf(rng);
        buf[i * f.bytes] = static_cast<uint8_t>(h & 0xFF), buf[i * f.bytes + 1] = static_cast<uint8_t>(h >> 8);
      }
      std::vector<float> want(rows * n);
      for (int i = 0; i < rows * nb; ++i) f.ref(buf.data() + i * f.bytes, want.data() + int64_t{i} * 32);
      QuantizedWeights q;
      q.format.kind = WeightKind::kInt, q.format.bits = bits, q.format.group = 32;
      q.out = rows, q.in = n, q.groups = nb;
      std::vector<uint8_t> codes(rows * n);
      q.scales.resize(rows * nb);
      for (int r = 0; r < rows; ++r)
        GgmlSymmetricIntCodes(f.type, buf.data() + r * nb * f.bytes, n, codes.data() + r * n, q.scales.data() + r * nb);
      for (uint8_t c : codes) ASSERT_LT(c, 1 << bits);
      q.codes = PackCodes(codes, rows, n, bits);
      std::vector<float> got(rows * n, -1.0f);
      DequantizeWeights(q, got);
      for (int64_t k = 0; k < rows * n; ++k)
        ASSERT_EQ(Bits(got[k]), Bits(want[k])) << "weight " << k << ": " << got[k] << " vs " << want[k];
    }
  }
  EXPECT_EQ(checked, 3);
  EXPECT_EQ(GgmlSymmetricIntBits(GgmlType::kQ4_1), 0);
  EXPECT_EQ(GgmlSymmetricIntBits(GgmlType::kQ4_K), 0);
}

TEST(GgmlBlocks, SubnormalAndNegativeScales) {
  // d = the smallest subnormal, negative: Q8_0 gives exactly q · -2^-24.
  uint8_t block[34] = {0x01, 0x80};
  for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  float y[32];
  DequantizeGgml(GgmlType::kQ8_0, block, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(j - 16) * -std::ldexp(1.0f, -24)) << j;
}

TEST(GgmlBlocks, Q4_0KnownAnswer) {
  // d = 0.5 (fp16 0x3800); byte j = j | (15 - j) << 4: weight j has code j,
  // weight j + 16 code 15 - j, each standing for (code - 8) · 0.5.
  uint8_t block[18] = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const float want[32] = {-4.0f, -3.5f, -3.0f, -2.5f, -2.0f, -1.5f, -1.0f, -0.5f,  //
                          0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  2.5f,  3.0f,  3.5f,   //
                          3.5f,  3.0f,  2.5f,  2.0f,  1.5f,  1.0f,  0.5f,  0.0f,   //
                          -0.5f, -1.0f, -1.5f, -2.0f, -2.5f, -3.0f, -3.5f, -4.0f};
  float y[32];
  DequantizeGgml(GgmlType::kQ4_0, block, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], want[j]) << j;
}

TEST(GgmlBlocks, Q8_0KnownAnswer) {
  // d = 0.5; codes -128, -1, 0, 1, 127, then 3 for the rest.
  uint8_t block[34] = {0x00, 0x38, 0x80, 0xFF, 0x00, 0x01, 0x7F};
  for (int j = 5; j < 32; ++j) block[2 + j] = 3;
  float y[32];
  DequantizeGgml(GgmlType::kQ8_0, block, 32, y);
  EXPECT_EQ(y[0], -64.0f);
  EXPECT_EQ(y[1], -0.5f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[3], 0.5f);
  EXPECT_EQ(y[4], 63.5f);
  for (int j = 5; j < 32; ++j) EXPECT_EQ(y[j], 1.5f) << j;
}

TEST(GgmlBlocks, Q5_0KnownAnswerHighBits) {
  // d = 1; all low nibbles 0; qh = 0x00010001 sets the 5th bit of weights 0
  // and 16 only: those are (16 - 16) = 0, all others (0 - 16) = -16.
  uint8_t block[22] = {0x00, 0x3C, 0x01, 0x00, 0x01, 0x00};
  float y[32];
  DequantizeGgml(GgmlType::kQ5_0, block, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j == 0 || j == 16) ? 0.0f : -16.0f) << j;
}

TEST(GgmlBlocks, Q3KScaleLayoutAsDocumented) {
  // ggml_blocks.cc: scale s has its low 4 bits in nibble s / 8 of byte s % 8,
  // its high 2 bits at bits 2·(s / 4) of byte 8 + s % 4.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    uint8_t s12[12];
    for (auto& b : s12) b = static_cast<uint8_t>(rng());
    int8_t scales[16];
    RefQ3Scales(s12, scales);
    for (int s = 0; s < 16; ++s) {
      const int lo = (s12[s % 8] >> (4 * (s / 8))) & 15;
      const int hi = (s12[8 + s % 4] >> (2 * (s / 4))) & 3;
      EXPECT_EQ(scales[s], lo | (hi << 4)) << s;
    }
  }
}

TEST(GgmlBlocks, EmptyInputWritesNothing) {
  float y = 7.0f;
  DequantizeGgml(GgmlType::kQ4_K, nullptr, 0, &y);
  EXPECT_EQ(y, 7.0f);
}

TEST(GgmlBlocks, TypeInfo) {
  for (const auto& f : Formats()) {
    const auto info = GgmlTypeInfoOf(static_cast<uint32_t>(f.type));
    ASSERT_TRUE(info.has_value()) << f.name;
    EXPECT_EQ(info->name, f.name);
    EXPECT_EQ(info->block_weights, f.weights) << f.name;
    EXPECT_EQ(info->block_bytes, f.bytes) << f.name;
    EXPECT_TRUE(info->supported) << f.name;
  }
  const auto q4k = GgmlTypeInfoOf(12);
  ASSERT_TRUE(q4k.has_value());
  EXPECT_EQ(q4k->name, "Q4_K");

  const auto iq2 = GgmlTypeInfoOf(16);
  ASSERT_TRUE(iq2.has_value());
  EXPECT_EQ(iq2->name, "IQ2_XXS");
  EXPECT_FALSE(iq2->supported);

  const std::pair<uint32_t, const char*> unsupported[] = {
      {9, "Q8_1"},   {15, "Q8_K"},  {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"},
      {21, "IQ3_S"}, {22, "IQ2_S"},   {24, "I8"},      {25, "I16"},
      {26, "I32"},   {27, "I64"},   {28, "F64"},     {29, "IQ1_M"}};
  for (const auto& [id, name] : unsupported) {
    const auto info = GgmlTypeInfoOf(id);
    ASSERT_TRUE(info.has_value()) << id;
    EXPECT_EQ(info->name, name);
    EXPECT_FALSE(info->supported) << name;
  }
  EXPECT_FALSE(GgmlTypeInfoOf(999).has_value());
  EXPECT_FALSE(GgmlTypeInfoOf(4).has_value());  // the removed Q4_2
  EXPECT_FALSE(GgmlTypeInfoOf(5).has_value());  // the removed Q4_3
}

TEST(GgmlBlocks, BitsPerWeight) {
  const std::pair<GgmlType, double> want[] = {
      {GgmlType::kQ4_0, 4.5},   {GgmlType::kQ4_1, 5.0},   {GgmlType::kQ5_0, 5.5},    {GgmlType::kQ5_1, 6.0},
      {GgmlType::kQ8_0, 8.5},   {GgmlType::kQ2_K, 2.625}, {GgmlType::kQ3_K, 3.4375}, {GgmlType::kQ4_K, 4.5},
      {GgmlType::kQ5_K, 5.5},   {GgmlType::kQ6_K, 6.5625}, {GgmlType::kF16, 16.0},   {GgmlType::kBF16, 16.0},
      {GgmlType::kF32, 32.0},   {GgmlType::kIq4Nl, 4.5},  {GgmlType::kIq4Xs, 4.25}};
  for (const auto& [t, bpw] : want) EXPECT_EQ(GgmlBitsPerWeight(t), bpw) << static_cast<uint32_t>(t);
}

}  // namespace
}  // namespace qsweep
