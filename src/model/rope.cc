#include "model/rope.h"

#include <cmath>

namespace qsweep {

std::vector<float> RopeInverseFrequencies(const ModelConfig& config) {
  const int64_t half = config.head_dim / 2;
  const RopeScaling& s = config.rope_scaling;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    // transformers computes base ** (arange(0, d, 2).float() / d) in fp32.
    double f = 1.0 / std::pow(config.rope_theta,
                              static_cast<double>(static_cast<float>(2 * i) / config.head_dim));
    f = static_cast<float>(f);
    if (s.type == RopeType::kLinear) {
      f /= s.factor;
    } else if (s.type == RopeType::kLlama3) {
      const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
      const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
      const double wavelen = 2 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                              (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
    inv[i] = static_cast<float>(f);
  }
  return inv;
}

}  // namespace qsweep
