// One decoder layer's weights on the backend (private to the decoder:
// decoder.cc and decoder_calibration.cc).
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/decoder.h"

namespace qsweep {

struct Decoder::Layer {
  std::unique_ptr<DeviceArray> attn_norm, mlp_norm, q_bias, k_bias, v_bias;
  std::unique_ptr<Linear> q, k, v, gate, up;
  std::vector<std::unique_ptr<Linear>> o, down;  // row-parallel: this rank's parts
};

}  // namespace qsweep
