// Honest sizes of a model under a scheme: bits per weight with scales, zero
// points and tables included, per tensor type and in total.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "quant/scheme.h"

namespace qsweep {

struct SizeRow {
  std::string type;    // embed, q, k, v, o, gate, up, down, norm, bias, head
  std::string format;  // WeightFormat::Describe()
  int64_t params = 0;
  double bits = 0;     // storage bits
};

struct SizeReport {
  std::string scheme;
  std::vector<SizeRow> rows;
  int64_t params = 0;
  double bits = 0;
  int64_t quantized_params = 0;
  double quantized_bits = 0;
  int64_t bytes() const { return static_cast<int64_t>((bits + 7) / 8); }
  double bits_per_weight() const { return params ? bits / params : 0; }
  double bits_per_quantized_weight() const { return quantized_params ? quantized_bits / quantized_params : 0; }
};

SizeReport ComputeSizes(const SchemeSpec& spec, const std::vector<TensorInfo>& tensors);
std::string FormatSizeReport(const SizeReport& report);

}  // namespace qsweep
