// Scheme names and specs (docs/schemes.md). A name is a shorthand for a
// spec: the base weight/activation format, how weights were chosen, and
// per-layer overrides (embeddings and lm_head stay bf16 by default; rules can
// restrict quantization to some layers or projection types).
//
//   fp32 | bf16 | fp16                      no quantization (fp32: not even rounding)
//   w<b>a16[-g<N>][-asym]   b = 2..8        integer weights, group N (none: per channel)
//   w1a16-g<N>                              binary: sign x group scale (mean |w|)
//   t2a16-g<N>                              ternary {-1, 0, +1} x group scale (TWN)
//   nf4-g<N> | fp4-g<N>                     bitsandbytes 4-bit codes x block absmax
//   fp8                                     e4m3 weights per channel, e4m3 activations per token
//   w8a8 | w4a8 | w4a4                      integer weights per channel, integer activations per token
//   ...[-rtn|-gptq|-awq|-sq<alpha>]         how weights are chosen (rtn default, not printed)
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/weight_format.h"

namespace qsweep {

struct OverrideRule {
  int64_t first_layer = 0, last_layer = -1;  // inclusive; last -1: every layer
  std::vector<std::string> projections;      // q k v o gate up down; empty: all
  std::string scheme;                        // a scheme name, or "keep" (bf16)
};

struct SchemeSpec {
  std::string base;                 // canonical name of the base scheme
  WeightFormat format;              // what projections become
  std::string method = "rtn";       // rtn, gptq, awq, sq<alpha>
  std::vector<OverrideRule> rules;  // first match wins
};

// Bad names fail with a message that lists the valid forms.
absl::StatusOr<SchemeSpec> ParseScheme(std::string_view name);
std::string SchemeName(const SchemeSpec& spec);  // canonical, with "+overrides" when rules exist
std::string SchemeJson(const SchemeSpec& spec);
std::string SchemeToYaml(const SchemeSpec& spec);
absl::StatusOr<SchemeSpec> SchemeFromYaml(const std::string& yaml);

// What the tensor of that canonical name becomes.
WeightFormat FormatFor(const SchemeSpec& spec, std::string_view tensor_name);

}  // namespace qsweep
