// What the bench harness's timed runs share: the median of a run's samples.
#pragma once
#include <algorithm>
#include <vector>

namespace qsweep::cli {

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace qsweep::cli
