// Packed codes: each row of `cols` b-bit unsigned codes (1 <= b <= 8) is
// stored in ceil(cols * b / 32) little-endian uint32 words; code j occupies
// bits [j*b, j*b + b) of the row's bit string (it may straddle two words).
// Rows start on a word boundary, so a GPU thread block can fetch a row
// slice with aligned 32- or 64-bit loads and shift codes out in registers.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace qsweep {

int64_t PackedWordsPerRow(int64_t cols, int bits);
// codes: [rows, cols], each < 2^bits.
std::vector<uint32_t> PackCodes(std::span<const uint8_t> codes, int64_t rows, int64_t cols, int bits);
uint8_t UnpackCode(const uint32_t* row_words, int64_t j, int bits);
std::vector<uint8_t> UnpackCodes(std::span<const uint32_t> words, int64_t rows, int64_t cols, int bits);

}  // namespace qsweep
