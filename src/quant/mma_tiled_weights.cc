#include "quant/mma_tiled_weights.h"

#include <algorithm>

#include "core/status_macros.h"
#include "quant/bit_packing.h"

namespace qsweep {
namespace {
int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
}  // namespace

MmaTiledWeights::Place MmaTiledWeights::Locate(int bits, int64_t chunks, int64_t n, int64_t k) {
  const int64_t nt = n / kRowTile, r = n % kRowTile, c = k / kChunk, kk = k % kChunk;
  const int64_t gid = r % 8, h = r / 8, block = kk / 64, k64 = kk % 64, tig = k64 / 16, k16 = k64 % 16;
  const int64_t tile = block * 4 + k16 / 4, j = k16 % 4;
  const int64_t e = (j & 1) | (h << 1) | ((j >> 1) << 2), i = tile * 8 + e, lane = gid * 4 + tig;
  const int64_t half = i & 1, stream_bit = (i >> 1) * bits, lane_word = stream_bit / 16;
  const int shift = static_cast<int>(stream_bit % 16);
  auto at = [&](int64_t lw) { return (((nt * chunks + c) * bits + lw / 4) * 32 + lane) * 4 + lw % 4; };
  Place p;
  p.word = at(lane_word);
  p.bit = shift + 16 * static_cast<int>(half);
  p.width = std::min(bits, 16 - shift);
  if (p.width < bits) {
    p.next_word = at(lane_word + 1);
    p.next_bit = 16 * static_cast<int>(half);
  }
  return p;
}

bool MmaTileable(const WeightFormat& f) {
  const bool groups = f.group == 0 || (f.group >= 16 && (f.group & (f.group - 1)) == 0);
  return f.quantized() && f.act == ActKind::kNone && f.bits >= 1 && f.bits <= 8 && groups;
}

MmaTiledWeights TileForMma(const QuantizedWeights& q) {
  QSWEEP_CHECK(MmaTileable(q.format));
  MmaTiledWeights t;
  t.format = q.format;
  t.out = q.out;
  t.in = q.in;
  t.group = q.group_size();
  t.out_padded = RoundUp(q.out, MmaTiledWeights::kRowTile);
  t.in_padded = RoundUp(q.in, MmaTiledWeights::kChunk);
  t.groups_padded = (t.in_padded + t.group - 1) / t.group;
  const int bits = q.format.bits;
  const int64_t chunks = t.in_padded / MmaTiledWeights::kChunk, wpr = PackedWordsPerRow(q.in, bits);
  t.codes.assign(t.out_padded / 16 * chunks * 128 * bits, 0);
#pragma omp parallel for schedule(static) if (q.out * q.in > (1 << 20))
  for (int64_t n = 0; n < q.out; n += 16) {
    // A row tile's words belong to it alone: rows in parallel by tiles.
    for (int64_t r = n; r < std::min(n + 16, q.out); ++r) {
      const uint32_t* row = q.codes.data() + r * wpr;
      for (int64_t k = 0; k < q.in; ++k) {
        const uint32_t code = UnpackCode(row, k, bits);
        const MmaTiledWeights::Place p = MmaTiledWeights::Locate(bits, chunks, r, k);
        t.codes[p.word] |= (code & ((1u << p.width) - 1)) << p.bit;
        if (p.width < bits) t.codes[p.next_word] |= (code >> p.width) << p.next_bit;
      }
    }
  }
  t.scales.assign(t.groups_padded * t.out_padded, 0);
  if (q.format.asymmetric) t.zeros.assign(t.groups_padded * t.out_padded, 0);
  for (int64_t r = 0; r < q.out; ++r)
    for (int64_t g = 0; g < q.groups; ++g) {
      t.scales[g * t.out_padded + r] = q.scales[r * q.groups + g];
      if (q.format.asymmetric) t.zeros[g * t.out_padded + r] = q.zeros[r * q.groups + g];
    }
  return t;
}

uint8_t TiledCode(const MmaTiledWeights& t, int64_t n, int64_t k) {
  const int bits = t.format.bits;
  const MmaTiledWeights::Place p = MmaTiledWeights::Locate(bits, t.in_padded / MmaTiledWeights::kChunk, n, k);
  uint32_t v = (t.codes[p.word] >> p.bit) & ((1u << p.width) - 1);
  if (p.width < bits) v |= ((t.codes[p.next_word] >> p.next_bit) & ((1u << (bits - p.width)) - 1)) << p.width;
  return static_cast<uint8_t>(v);
}

}  // namespace qsweep
