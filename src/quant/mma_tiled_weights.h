// Quantized weights in the layout of the GPU's low-bit GEMM family
// (kernels/lowbit): the codes rearranged so that each thread of a warp finds
// its tensor-core operand in consecutive registers, the scales transposed so
// that a warp's rows are adjacent. The host layout is quantized_weights.h's.
//
// The kernels run mma.sync m16n8k16 with the weights as operand A (16 output
// rows by 16 inputs) and the activations as operand B. In a 16x16 tile lane l
// (gid = l / 4, tig = l % 4) holds 8 elements e = 0..7 of rows gid + 8·h,
// h = (e >> 1) & 1, at the tile's input columns 2·tig + (e & 1) + 8·(e >> 2).
// A dot product does not care in which order its inputs come, so the tiles'
// columns are a permutation of k chosen for the activations' sake: in every
// 64 inputs (4 tiles), lane tig's columns are the 16 consecutive inputs
// 16·tig .. 16·tig + 15, and tile tt's j-th column of them (j = 0..3,
// j = (e & 1) + 2·(e >> 2)) is input 16·tig + 4·tt + j. A thread then reads
// its activations as two 16-byte loads per 64 inputs, exactly the fragment
// order.
//
// Codes: for row tile nt = n / 16 and chunk c = k / 256 (16 tiles), each lane
// owns 128 codes, code i = 8·t + e of tile t = (k % 256) / 16, in 4·b words.
// The words are stored [nt][c][q][lane][4], q = 0..b-1: the warp's q-th
// 16-byte load reads 512 consecutive bytes; a lane's words in the order
// q·4 + w are its word string. Codes go in pairs (2p, 2p + 1): the two
// elements of one bf16x2 operand register. The even codes fill the low 16
// bits of the lane's words, the odd ones the high 16 bits, each a bit string
// of 16-bit halves: code 2p + h lies at bit (p·b) % 16 of half h of word
// (p·b) / 16, and where it does not fit continues in the same half of the
// next word. So one shift and one mask bring both codes of a pair into the
// two halves of a register, where a bf16 exponent ORed on top makes them
// numbers (lowbit/dequant_formats.cuh).
// Scales: fp16 [groups_padded][out_padded]; zeros (asymmetric) uint8 alike.
// Padding: out up to a multiple of 16, in up to a multiple of 256, with code
// 0 and, past the last group, scale 0; the kernels never read an activation
// past `in`, and write no output row past `out`.
#pragma once
#include <cstdint>
#include <vector>

#include "quant/quantized_weights.h"

namespace qsweep {

struct MmaTiledWeights {
  static constexpr int64_t kRowTile = 16, kChunk = 256;
  WeightFormat format;
  int64_t out = 0, in = 0, group = 0;  // group: the input columns one scale covers (in when per channel)
  int64_t out_padded = 0, in_padded = 0, groups_padded = 0;
  std::vector<uint32_t> codes;
  std::vector<uint16_t> scales;
  std::vector<uint8_t> zeros;

  int64_t bytes() const { return codes.size() * 4 + scales.size() * 2 + zeros.size(); }
  // Where code (row n, input k) lies: its low `width` bits at `bit` of
  // `word`, the rest (width < bits: it straddles) at `next_bit` of
  // `next_word`.
  struct Place {
    int64_t word = 0, next_word = -1;
    int bit = 0, width = 0, next_bit = 0;
  };
  static Place Locate(int bits, int64_t chunks, int64_t n, int64_t k);
};

// Whether the kernels take this format: quantized, weight-only, groups per
// channel or a power of two >= 16 (every kInt, binary, ternary, NF4, FP4,
// fp8a16 format qsweep names).
bool MmaTileable(const WeightFormat& f);
MmaTiledWeights TileForMma(const QuantizedWeights& q);
// The code of (row n, input k), read back from the tiled layout.
uint8_t TiledCode(const MmaTiledWeights& t, int64_t n, int64_t k);

}  // namespace qsweep
