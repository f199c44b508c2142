// Percentiles, by one method used everywhere in qsweep's metrics: linear
// interpolation between the closest ranks (numpy.percentile's default,
// method="linear"). For sorted values x[0..n-1] and q in [0, 100]:
//   h = (n - 1) * q / 100,  result = x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)]).
#pragma once

#include <span>
#include <vector>

namespace qsweep::metrics {

// q-th percentile (q in [0, 100]) of values that are already sorted ascending.
// NaN for an empty input.
double PercentileOfSorted(std::span<const double> sorted, double q);

// Percentiles of unsorted values (sorted once, copied).
std::vector<double> Percentiles(std::span<const double> values, std::span<const double> qs);
double Percentile(std::span<const double> values, double q);

double Mean(std::span<const double> values);  // NaN for an empty input

}  // namespace qsweep::metrics
