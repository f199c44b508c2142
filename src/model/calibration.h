// Calibration data for the calibrated quantizers (GPTQ), and what
// calibrating a model chose. The decoder quantizes layer by layer on these
// sequences (Decoder::Calibrate, model/decoder_calibration.cc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qsweep {

// Token sequences of one length, drawn once from a corpus
// (eval/calibration_data.h), and the content id that names the draw.
struct CalibrationSet {
  std::vector<std::vector<int32_t>> sequences;
  std::string source;  // the file it came from, for messages and the run file
  std::string id;      // content id of the tokens (16 hex digits)
  int64_t seed = 0;
  int64_t tokens() const {
    int64_t n = 0;
    for (const auto& s : sequences) n += static_cast<int64_t>(s.size());
    return n;
  }
};

// One quantized projection: the rows its statistics cover and what GPTQ chose.
struct TensorCalibration {
  std::string name;
  int64_t tokens = 0;
  double hessian_trace = 0;  // trace of H = 2/n Σ x xᵀ of its inputs
  double damp_used = 0;
  int64_t dead_columns = 0;
  double awq_alpha = -1;  // AWQ: the chosen exponent (-1: no scale search)
};

struct CalibrationReport {
  std::vector<TensorCalibration> tensors;  // in quantization order
  double capture_seconds = 0;   // running the layers to their inputs
  double hessian_seconds = 0;   // accumulating the Hessians
  double quantize_seconds = 0;  // the quantizer, reading and uploading the layers included
  double factorize_seconds = 0;  // of which GPTQ's damping and factorizations
  double columns_seconds = 0;    // and GPTQ's column loop
  double search_seconds = 0;     // or AWQ's scale search
  double clip_seconds = 0;       // and AWQ's clipping search
  // For the run file's scheme JSON: the data's id, source, shape, and the
  // damping used (the largest, and the tensors where it was increased).
  std::string Json(const CalibrationSet& set, double base_damp) const;
  // A scheme JSON object (SchemeJson) with that as its "calibration" member.
  std::string AddToSchemeJson(const std::string& scheme_json, const CalibrationSet& set, double base_damp) const;
};

}  // namespace qsweep
