#include "quant/ggml_blocks.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#include "core/dtype.h"
#include "core/status_macros.h"

// Every product and sum below is fp32, in the order of ggml's reference
// dequantize_row_* (ggml-quants.c). In these formats every product is exact
// in fp32 (an 11-bit fp16 significand times integer factors of at most 12
// significant bits together: Q6_K's 7-bit scale and 5-bit code is the most),
// so only the final `+ m` / `- ml` rounds; still, this file is compiled with
// -ffp-contract=off (src/quant/CMakeLists.txt) so that the arithmetic stays
// ggml's literally, whatever a later edit or -march adds.

namespace qsweep {
namespace {

// ggml's structs are read whole into these mirrors by memcpy (the blocks of
// a file need not be aligned); ggml itself reads its fields in host order,
// which GGUF's little-endian layout matches only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "ggml blocks are little-endian");

template <typename Block>
Block LoadBlock(const uint8_t* blocks, int64_t i) {
  Block b;
  std::memcpy(&b, blocks + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

float Half(uint16_t h) { return F16ToFloat(h); }

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, d) == 80);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, d) == 208);

// Q4_0: symmetric 4-bit, one fp16 scale d per 32 weights. Byte j holds
// weight j in its low nibble and weight j + 16 in its high one; the code
// q in [0, 15] stands for q - 8 in [-8, 7]:  W = (q - 8) · d.
void DequantizeQ4_0(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockQ4_0>(blocks, i);
    const float d = Half(b.d);
    for (int j = 0; j < 16; ++j) {
      const int x0 = (b.qs[j] & 0x0F) - 8;
      const int x1 = (b.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

// Q4_1: asymmetric 4-bit, a scale d and a min m (the block's lowest value)
// per 32 weights, nibbles as Q4_0:  W = q · d + m,  q in [0, 15].
void DequantizeQ4_1(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockQ4_1>(blocks, i);
    const float d = Half(b.d);
    const float m = Half(b.m);
    for (int j = 0; j < 16; ++j) {
      const int x0 = b.qs[j] & 0x0F;
      const int x1 = b.qs[j] >> 4;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + 16] = static_cast<float>(x1) * d + m;
    }
  }
}

// Q5_0: symmetric 5-bit. The low 4 bits are nibbles as Q4_0; the 5th bit of
// weight k (k in [0, 32)) is bit k of qh read as a little-endian uint32.
// The code q in [0, 31] stands for q - 16:  W = (q - 16) · d.
void DequantizeQ5_0(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockQ5_0>(blocks, i);
    const float d = Half(b.d);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
      const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
      const int32_t x0 = ((b.qs[j] & 0x0F) | xh0) - 16;
      const int32_t x1 = ((b.qs[j] >> 4) | xh1) - 16;
      y[j] = static_cast<float>(x0) * d;
      y[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

// Q5_1: asymmetric 5-bit, bits as Q5_0, scale and min as Q4_1:
// W = q · d + m,  q in [0, 31].
void DequantizeQ5_1(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockQ5_1>(blocks, i);
    const float d = Half(b.d);
    const float m = Half(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
      const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
      const int x0 = (b.qs[j] & 0x0F) | xh0;
      const int x1 = (b.qs[j] >> 4) | xh1;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + 16] = static_cast<float>(x1) * d + m;
    }
  }
}

// Q8_0: symmetric 8-bit, one int8 code a weight and one fp16 scale per 32:
// W = q · d.
void DequantizeQ8_0(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockQ8_0>(blocks, i);
    const float d = Half(b.d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

// Q2_K: 2-bit codes, 16 sub-blocks of 16 weights. scales[s] holds sub-block
// s's 4-bit scale (low nibble) and 4-bit min (high nibble), both multiplied
// by the super-block's fp16 d and dmin:  W = (d · sc) · q - dmin · mn.
// Codes: weight w = 128·h + 32·j + l (h < 2, j < 4, l < 32) is bits 2j, 2j+1
// of qs[32·h + l]; its sub-block is w / 16.
void DequantizeQ2_K(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ2_K>(blocks, i);
    const float d = Half(b.d);
    const float dmin = Half(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = b.scales[is++];
        float dl = d * static_cast<float>(sc & 0xF);
        float ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        sc = b.scales[is++];
        dl = d * static_cast<float>(sc & 0xF);
        ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16] >> shift) & 3) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
}

// Q3_K: 3-bit symmetric codes, 16 sub-blocks of 16 weights, no min.
// Weight w = 128·h + 32·j + l (h < 2, j < 4, l < 32): its low 2 bits are
// bits 2j, 2j+1 of qs[32·h + l], its high bit is bit 4h + j of hmask[l]; the
// 3-bit code q stands for q - 4 (ggml: subtract 4 when the high bit is clear).
// Sub-block s = w / 16 has a 6-bit scale sc in [0, 63] standing for sc - 32:
// its low 4 bits are nibble s / 8 of scales[s % 8], its high 2 bits are bits
// 2·(s / 4), +1 of scales[8 + s % 4].  W = (d · (sc - 32)) · (q - 4).
void DequantizeQ3_K(const uint8_t* blocks, int64_t nb, float* y) {
  constexpr uint32_t kmask1 = 0x03030303;
  constexpr uint32_t kmask2 = 0x0f0f0f0f;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ3_K>(blocks, i);
    const float d_all = Half(b.d);
    uint32_t aux[4];
    std::memcpy(aux, b.scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    std::array<int8_t, 16> scales;
    std::memcpy(scales.data(), aux, 16);

    const uint8_t* q = b.qs;
    const uint8_t* hm = b.hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * static_cast<float>(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * static_cast<float>(((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        shift += 2;
        m = static_cast<uint8_t>(m << 1);
      }
      q += 32;
    }
  }
}

// The 6-bit scale and min of sub-block j (j < 8) of Q4_K / Q5_K, packed in
// 12 bytes: j < 4 keeps them in the low 6 bits of bytes j and j + 4; j >= 4
// keeps their low 4 bits in the nibbles of byte j + 4 and their high 2 bits
// in the top bits of bytes j - 4 (scale) and j (min). ggml's get_scale_min_k4.
void ScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q4_K: 4-bit asymmetric codes, 8 sub-blocks of 32 weights with a 6-bit
// scale sc and 6-bit min mn each (ScaleMinK4), scaled by the fp16 d, dmin:
// W = (d · sc) · q - dmin · mn. Sub-block 2k is the low nibbles of
// qs[32k .. 32k + 31], sub-block 2k + 1 their high nibbles.
void DequantizeQ4_K(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ4_K>(blocks, i);
    const float d = Half(b.d);
    const float dmin = Half(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < 256; j += 64) {
      ScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      ScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

// Q5_K: Q4_K plus a 5th bit a weight: weight l of sub-block s (l < 32) adds
// 16 when bit s of qh[l] is set.  W = (d · sc) · q - dmin · mn, q in [0, 31].
void DequantizeQ5_K(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ5_K>(blocks, i);
    const float d = Half(b.d);
    const float dmin = Half(b.dmin);
    const uint8_t* ql = b.qs;
    const uint8_t* qh = b.qh;
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
      ScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      ScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

// Q6_K: 6-bit symmetric codes, 16 sub-blocks of 16 weights with an int8
// scale each, times the fp16 d:  W = (d · sc) · (q - 32). Per half h of 128
// weights (ql += 64, qh += 32): weight l, l + 32, l + 64, l + 96 (l < 32)
// take their low 4 bits from the low nibble of ql[l], of ql[l + 32], the high
// nibble of ql[l], of ql[l + 32], and their high 2 bits from bits 0-1, 2-3,
// 4-5, 6-7 of qh[l]; the scale of weight w of the half is scales[8h + w / 16].
void DequantizeQ6_K(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ6_K>(blocks, i);
    const float d = Half(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = static_cast<int8_t>(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        const int8_t q2 = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        const int8_t q3 = static_cast<int8_t>(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        const int8_t q4 = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// The non-linear 4-bit codebook of the IQ4 types (ggml-common.h
// kvalues_iq4nl): a nibble indexes it, the block's scale multiplies it.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockIq4Xs {
  uint16_t d, scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIq4Nl) == 18 && sizeof(BlockIq4Xs) == 136);

// IQ4_NL: one fp16 scale d per 32 weights, nibbles as Q4_0's (byte j: weight
// j low, j + 16 high) indexing the codebook:  W = d · kIq4Values[q].
void DequantizeIq4Nl(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = LoadBlock<BlockIq4Nl>(blocks, i);
    const float d = Half(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4Values[b.qs[j] & 0x0F]);
      y[j + 16] = d * static_cast<float>(kIq4Values[b.qs[j] >> 4]);
    }
  }
}

// IQ4_XS: super-blocks of 256, 8 sub-blocks of 32 each with a 6-bit scale
// ls (its low 4 bits in nibble ib % 2 of scales_l[ib / 2], its high 2 at bit
// 2·ib of scales_h), nibbles of sub-block ib in qs[16·ib .. 16·ib + 15] as
// IQ4_NL's:  W = (d · (ls - 32)) · kIq4Values[q], rounded as written.
void DequantizeIq4Xs(const uint8_t* blocks, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockIq4Xs>(blocks, i);
    const float d = Half(b.d);
    for (int ib = 0; ib < 8; ++ib, y += 32) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4Values[b.qs[16 * ib + j] & 0x0F]);
        y[j + 16] = dl * static_cast<float>(kIq4Values[b.qs[16 * ib + j] >> 4]);
      }
    }
  }
}

struct Row {
  uint32_t id;
  std::string_view name;
  int64_t block_weights, block_bytes;
  bool supported;
};

// ggml.h's enum ggml_type; block sizes from ggml-common.h. Ids 4 and 5 (the
// removed Q4_2, Q4_3) and ids past IQ1_M are not listed.
constexpr Row kRows[] = {
    {0, "F32", 1, 4, true},         {1, "F16", 1, 2, true},         {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},      {6, "Q5_0", 32, 22, true},      {7, "Q5_1", 32, 24, true},
    {8, "Q8_0", 32, 34, true},      {9, "Q8_1", 32, 36, false},     {10, "Q2_K", 256, 84, true},
    {11, "Q3_K", 256, 110, true},   {12, "Q4_K", 256, 144, true},   {13, "Q5_K", 256, 176, true},
    {14, "Q6_K", 256, 210, true},   {15, "Q8_K", 256, 292, false},  {16, "IQ2_XXS", 256, 66, false},
    {17, "IQ2_XS", 256, 74, false}, {18, "IQ3_XXS", 256, 98, false}, {19, "IQ1_S", 256, 50, false},
    {20, "IQ4_NL", 32, 18, true},  {21, "IQ3_S", 256, 110, false}, {22, "IQ2_S", 256, 82, false},
    {23, "IQ4_XS", 256, 136, true}, {24, "I8", 1, 1, false},       {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},       {27, "I64", 1, 8, false},       {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, false},  {30, "BF16", 1, 2, true},
};

const Row* RowOf(uint32_t id) {
  for (const auto& r : kRows)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

std::optional<GgmlTypeInfo> GgmlTypeInfoOf(uint32_t type_id) {
  const Row* r = RowOf(type_id);
  if (r == nullptr) return std::nullopt;
  return GgmlTypeInfo{r->name, r->block_weights, r->block_bytes, r->supported};
}

double GgmlBitsPerWeight(GgmlType t) {
  const Row* r = RowOf(static_cast<uint32_t>(t));
  QSWEEP_CHECK(r != nullptr && r->supported);
  return 8.0 * static_cast<double>(r->block_bytes) / static_cast<double>(r->block_weights);
}

int GgmlSymmetricIntBits(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_0: return 4;
    case GgmlType::kQ5_0: return 5;
    case GgmlType::kQ8_0: return 8;
    default: return 0;
  }
}

// The bits of each code as the Dequantize functions above read them.
void GgmlSymmetricIntCodes(GgmlType t, const uint8_t* blocks, int64_t n, uint8_t* codes, uint16_t* scales) {
  QSWEEP_CHECK(GgmlSymmetricIntBits(t) > 0 && n % 32 == 0);
  for (int64_t i = 0; i < n / 32; ++i, codes += 32) {
    if (t == GgmlType::kQ8_0) {
      const auto b = LoadBlock<BlockQ8_0>(blocks, i);
      scales[i] = b.d;
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<uint8_t>(b.qs[j] + 128);
    } else if (t == GgmlType::kQ4_0) {
      const auto b = LoadBlock<BlockQ4_0>(blocks, i);
      scales[i] = b.d;
      for (int j = 0; j < 16; ++j) codes[j] = b.qs[j] & 0x0F, codes[j + 16] = b.qs[j] >> 4;
    } else {
      const auto b = LoadBlock<BlockQ5_0>(blocks, i);
      scales[i] = b.d;
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      for (int j = 0; j < 16; ++j) {
        codes[j] = static_cast<uint8_t>((b.qs[j] & 0x0F) | (((qh >> j) << 4) & 0x10));
        codes[j + 16] = static_cast<uint8_t>((b.qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
      }
    }
  }
}

void DequantizeGgml(GgmlType t, const uint8_t* blocks, int64_t n, float* out) {
  const Row* r = RowOf(static_cast<uint32_t>(t));
  QSWEEP_CHECK(r != nullptr && r->supported);
  QSWEEP_CHECK(n >= 0 && n % r->block_weights == 0);
  const int64_t nb = n / r->block_weights;
  if (nb == 0) return;
  switch (t) {
    case GgmlType::kF32: return ConvertToFloat(DType::kF32, blocks, n, out);
    case GgmlType::kF16: return ConvertToFloat(DType::kF16, blocks, n, out);
    case GgmlType::kBF16: return ConvertToFloat(DType::kBF16, blocks, n, out);
    case GgmlType::kQ4_0: return DequantizeQ4_0(blocks, nb, out);
    case GgmlType::kQ4_1: return DequantizeQ4_1(blocks, nb, out);
    case GgmlType::kQ5_0: return DequantizeQ5_0(blocks, nb, out);
    case GgmlType::kQ5_1: return DequantizeQ5_1(blocks, nb, out);
    case GgmlType::kQ8_0: return DequantizeQ8_0(blocks, nb, out);
    case GgmlType::kQ2_K: return DequantizeQ2_K(blocks, nb, out);
    case GgmlType::kQ3_K: return DequantizeQ3_K(blocks, nb, out);
    case GgmlType::kQ4_K: return DequantizeQ4_K(blocks, nb, out);
    case GgmlType::kQ5_K: return DequantizeQ5_K(blocks, nb, out);
    case GgmlType::kQ6_K: return DequantizeQ6_K(blocks, nb, out);
    case GgmlType::kIq4Nl: return DequantizeIq4Nl(blocks, nb, out);
    case GgmlType::kIq4Xs: return DequantizeIq4Xs(blocks, nb, out);
  }
  QSWEEP_CHECK(false && "DequantizeGgml: unhandled type");
}

}  // namespace qsweep
