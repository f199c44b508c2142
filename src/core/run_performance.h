// How fast, and in how much device memory, a run scored: what a deployment
// of the scheme would see, measured in the run itself. The time is rank 0's
// wall clock from the first unit handed out to the last result in, with
// the device synchronized at both ends (loading and quantizing excluded);
// a resumed run measures the session that finished it.
#pragma once
#include <cstdint>
#include <string>

namespace qsweep {

struct RunPerformance {
  std::string device;                // the backend's device, e.g. "NVIDIA H200"
  int64_t weight_bytes = -1;         // the scheme's weights in device memory on one rank (-1: not counted)
  int64_t device_bytes_in_use = -1;  // one rank's device memory in use after scoring (-1: not counted); the
                                     // memory plan reserves every buffer up front, so this is the run's peak
  double score_seconds = 0;          // 0: not measured (runs made before it was)
  int64_t samples = 0;               // multiple-choice samples scored in that time
  int64_t windows = 0;               // perplexity windows scored in that time
  int64_t tokens = 0;                // tokens through the forward: contexts, choices and windows

  bool measured() const { return score_seconds > 0; }
  double tokens_per_s() const { return measured() ? tokens / score_seconds : 0; }
  double samples_per_s() const { return measured() ? (samples + windows) / score_seconds : 0; }
};

}  // namespace qsweep
