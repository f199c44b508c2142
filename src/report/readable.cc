#include "report/readable.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace qsweep {
namespace {

constexpr const char* kNone = "–";  // not measured or not a number

// v with 3 significant digits and no exponent (v in [1, 1000)).
std::string ThreeDigits(double v) {
  return v >= 100 ? absl::StrFormat("%.0f", v) : v >= 10 ? absl::StrFormat("%.1f", v) : absl::StrFormat("%.2f", v);
}

// A sign that reads as one: U+2212 for negatives, '+' otherwise.
std::string Signed(double v, const std::string& magnitude) { return (v < 0 ? "\u2212" : "+") + magnitude; }

}  // namespace

std::string ReadableBytes(double bytes) {
  if (!std::isfinite(bytes) || bytes < 0) return kNone;
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (u < 4 && bytes >= 999.5) {
    bytes /= 1000;
    ++u;
  }
  // Rounding to 3 digits can carry into the next unit (999.7 kB → 1.00 MB).
  if (u < 4 && std::stod(ThreeDigits(bytes)) >= 1000) {
    bytes /= 1000;
    ++u;
  }
  return (u == 0 ? absl::StrFormat("%.0f", bytes) : ThreeDigits(bytes)) + " " + units[u];
}

std::string ReadablePercent(double share) {
  if (!std::isfinite(share)) return kNone;
  return absl::StrFormat("%.1f%%", 100 * share);
}

std::string ReadableDelta(double share) {
  if (!std::isfinite(share)) return kNone;
  const std::string m = absl::StrFormat("%.1f%%", 100 * std::fabs(share));
  return m == "0.0%" ? "±0.0%" : Signed(share, m);
}

std::string ReadableInterval(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return kNone;
  return "[" + ReadableDelta(lo) + ", " + ReadableDelta(hi) + "]";
}

std::string ReadablePValue(double p) {
  if (!std::isfinite(p) || p < 0) return kNone;
  if (p < 1e-6) return "< 1e-6";
  if (p >= 0.995) return "1.0";
  // Two significant digits, in plain notation down to 1e-6.
  const int decimals = std::max(2, 1 - static_cast<int>(std::floor(std::log10(p))));
  std::string s = absl::StrFormat("%.*f", decimals, p);
  // Rounding may add a digit (0.0995 → "0.100"): keep two significant ones.
  if (const double r = std::stod(s); r > 0 && std::floor(std::log10(r)) > std::floor(std::log10(p)))
    s = absl::StrFormat("%.*f", decimals - 1, r);
  return s;
}

std::string ReadableKl(double nats) {
  if (!std::isfinite(nats)) return kNone;
  if (nats == 0) return "0";
  return absl::StrFormat("%.1e", nats);
}

std::string ReadableFixed(double v, int digits) {
  if (!std::isfinite(v)) return kNone;
  return absl::StrFormat("%.*f", digits, v);
}

}  // namespace qsweep
