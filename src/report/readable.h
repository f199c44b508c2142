// Numbers as the report prints them for people (the CSV and the metrics
// file keep full precision under machine names): sizes in MB/GB with 3
// significant digits, shares as percentages, p-values as "< 1e-6" or two
// significant digits, KL in scientific notation with 2 digits.
#pragma once
#include <string>

namespace qsweep {

std::string ReadableBytes(double bytes);        // "1.77 MB", "39.5 GB", "812 kB"
std::string ReadablePercent(double share);      // 0.1234 → "12.3%"
std::string ReadableDelta(double share);        // 0.0071 → "+0.7%", "−2.0%"
std::string ReadableInterval(double lo, double hi);  // "[−1.2%, +0.4%]"
std::string ReadablePValue(double p);           // "< 1e-6", "0.034", "1.0"
std::string ReadableKl(double nats);            // "3.1e-06", "0" for exactly 0
std::string ReadableFixed(double v, int digits);  // v with `digits` decimals; "–" when not finite

}  // namespace qsweep
