// What one weight tensor becomes under a scheme, and how its activations
// are treated. The packed layouts themselves are documented in packed_linear.h.
#pragma once
#include <cstdint>
#include <string>

namespace qsweep {

enum class WeightKind {
  kDense,    // stored as dense_bits-bit floats (32: fp32, 16: bf16 or fp16)
  kInt,      // b-bit integers x group scale (symmetric, or asymmetric with a zero point)
  kBinary,   // sign x group scale (1 bit)
  kTernary,  // {-1, 0, +1} x group scale (2 bits)
  kNf4,      // bitsandbytes NormalFloat4 code x block absmax
  kFp4,      // bitsandbytes FP4 code x block absmax
  kFp8,      // float8 e4m3 x per-output-channel scale
};

enum class ActKind { kNone, kInt8, kInt4, kFp8 };  // dynamic, per token

struct WeightFormat {
  WeightKind kind = WeightKind::kDense;
  int dense_bits = 16;
  bool dense_fp16 = false;  // 16-bit dense as fp16 instead of bf16
  int bits = 16;            // bits per code (kInt: 1..8)
  int64_t group = 0;        // group size along the input dimension; 0 = per output channel
  bool asymmetric = false;
  ActKind act = ActKind::kNone;

  static WeightFormat Dense(int bits, bool fp16 = false) {
    WeightFormat f;
    f.kind = WeightKind::kDense;
    f.dense_bits = bits;
    f.dense_fp16 = fp16;
    f.bits = bits;
    return f;
  }
  bool quantized() const { return kind != WeightKind::kDense; }
  bool operator==(const WeightFormat&) const = default;
  // Storage bits per weight: codes + fp16 scales (+ uint8 zeros) per group.
  double BitsPerWeight(int64_t in_features) const;
  std::string Describe() const;
};

}  // namespace qsweep
