// Progress of long work on rank 0: done / total, rate, ETA, printed to stderr
// at most once per interval (and once at the end).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace qsweep {

class Progress {
 public:
  // `enabled` is false on ranks other than 0; `unit` names what is counted.
  Progress(std::string what, int64_t total, std::string unit, bool enabled,
           double interval_seconds = 2.0);
  void Advance(int64_t n = 1);
  void Finish();
  int64_t done() const { return done_; }

  // "12/40 (30.0%) 5.2 samples/s ETA 5s": exposed for tests.
  static std::string Line(const std::string& what, int64_t done, int64_t total,
                          const std::string& unit, double elapsed_seconds);

 private:
  void Print();
  std::string what_, unit_;
  int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace qsweep
