#include "core/progress.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_format.h"

namespace qsweep {

Progress::Progress(std::string what, int64_t total, std::string unit, bool enabled,
                   double interval_seconds)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      interval_(interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

static std::string Duration(double s) {
  if (s < 90) return absl::StrFormat("%.0fs", s);
  if (s < 5400) return absl::StrFormat("%.0fm%02.0fs", std::floor(s / 60), std::fmod(s, 60));
  return absl::StrFormat("%.0fh%02.0fm", std::floor(s / 3600), std::fmod(s / 60, 60));
}

std::string Progress::Line(const std::string& what, int64_t done, int64_t total,
                           const std::string& unit, double elapsed) {
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  const double pct = total > 0 ? 100.0 * done / total : 100.0;
  std::string eta = "?";
  if (done >= total) {
    eta = "done in " + Duration(elapsed);
  } else if (rate > 0) {
    eta = "ETA " + Duration((total - done) / rate);
  }
  return absl::StrFormat("%s: %d/%d (%.1f%%) %.1f %s/s %s", what, done, total, pct, rate, unit,
                         eta);
}

void Progress::Advance(int64_t n) {
  done_ += n;
  if (!enabled_ || done_ >= total_) return;  // the last line is Finish()'s
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() >= interval_) {
    last_print_ = now;
    Print();
  }
}

void Progress::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  Print();
}

void Progress::Print() {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s\n", Line(what_, done_, total_, unit_, elapsed).c_str());
  std::fflush(stderr);
}

}  // namespace qsweep
