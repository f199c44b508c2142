#include "quant/bit_packing.h"

#include "core/status_macros.h"

namespace qsweep {

int64_t PackedWordsPerRow(int64_t cols, int bits) { return (cols * bits + 31) / 32; }

std::vector<uint32_t> PackCodes(std::span<const uint8_t> codes, int64_t rows, int64_t cols, int bits) {
  QSWEEP_CHECK(bits >= 1 && bits <= 8 && static_cast<int64_t>(codes.size()) == rows * cols);
  const int64_t wpr = PackedWordsPerRow(cols, bits);
  std::vector<uint32_t> words(rows * wpr, 0);
  // Rows own whole words: rows in parallel.
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 20))
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* w = words.data() + r * wpr;
    for (int64_t j = 0; j < cols; ++j) {
      const uint64_t code = codes[r * cols + j];
      QSWEEP_CHECK(code < (1u << bits));
      const int64_t bit = j * bits, word = bit / 32, shift = bit % 32;
      w[word] |= static_cast<uint32_t>(code << shift);
      if (shift + bits > 32) w[word + 1] |= static_cast<uint32_t>(code >> (32 - shift));
    }
  }
  return words;
}

uint8_t UnpackCode(const uint32_t* w, int64_t j, int bits) {
  const int64_t bit = j * bits, word = bit / 32, shift = bit % 32;
  uint64_t v = w[word] >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(w[word + 1]) << (32 - shift);
  return static_cast<uint8_t>(v & ((1u << bits) - 1));
}

std::vector<uint8_t> UnpackCodes(std::span<const uint32_t> words, int64_t rows, int64_t cols, int bits) {
  const int64_t wpr = PackedWordsPerRow(cols, bits);
  std::vector<uint8_t> codes(rows * cols);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 20))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) codes[r * cols + j] = UnpackCode(words.data() + r * wpr, j, bits);
  return codes;
}

}  // namespace qsweep
