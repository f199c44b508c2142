// Calibration sequences for the calibrated quantizers, drawn once from a
// text corpus or a task file and tokenized with the model's tokenizer, as
// GPTQ's datautils draws them: the whole text tokenized once (BOS first
// where asked), then `sequences` windows of `length` tokens at starts drawn
// uniformly with the seed (mt19937_64, so the draw is the same everywhere).
//   *.jsonl  a task file (tasks/task.h): each sample's context and correct
//            answer, samples joined by a blank line
//   other    plain UTF-8 text
// Errors name the file: missing, empty, tokenizing to nothing, or shorter
// than one sequence.
#pragma once
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/calibration.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

struct CalibrationSource {
  std::string path;
  int64_t sequences = 128;
  int64_t length = 2048;
  int64_t seed = 0;
};

absl::StatusOr<CalibrationSet> LoadCalibrationSet(const CalibrationSource& source, const Tokenizer& tokenizer,
                                                  bool add_bos);

// The content id of the sequences (16 hex digits): equal ids, equal tokens.
std::string CalibrationId(const std::vector<std::vector<int32_t>>& sequences);

}  // namespace qsweep
