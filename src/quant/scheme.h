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
//   ...[-rtn|-gptq|-awq|-sq<alpha>]         how weights are chosen (rtn default, not printed;
//                                           sq only with quantized activations, alpha in [0, 1])
//   ...-gptq[-act][-static]                 GPTQ (integer formats) with act-order, static groups
//
// Which tensors are quantized (FormatFor): the q k v o gate up down
// projections of every layer; embeddings, lm_head, norms and biases keep the
// unquantized format (UnquantizedFormat). Override rules, first match wins,
// select layers and/or projection types and give them another scheme's format
// or "keep" (the unquantized format); they apply over a dense base too, so
// `bf16` + {layers: 0-4, format: w4a16-g128} quantizes only layers 0-4.
// In YAML (SchemeToYaml / SchemeFromYaml):
//   scheme: w4a16-g128
//   overrides:
//     - {layers: 0-4, projections: [down], format: w8a16}   # A-B, A- or A
//     - {layers: 40-, format: keep}
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/gptq.h"
#include "quant/weight_format.h"

namespace qsweep {

struct OverrideRule {
  int64_t first_layer = 0, last_layer = -1;  // inclusive; last -1: every layer
  std::vector<std::string> projections;      // q k v o gate up down; empty: all
  std::string scheme;                        // a canonical scheme name without method, or "keep"
  std::optional<WeightFormat> format;        // what `scheme` resolves to; none for "keep"
};

// How quantized weights are chosen; applies to every quantized tensor.
enum class Method { kRtn, kGptq, kAwq, kSmoothQuant };

struct SchemeSpec {
  std::string base;                 // canonical name of the base scheme
  WeightFormat format;              // what projections become
  Method method = Method::kRtn;
  double smooth_alpha = 0;          // kSmoothQuant's migration strength, in [0, 1]
  GptqOptions gptq;                 // kGptq's settings (act-order and static groups from the name)
  std::vector<OverrideRule> rules;  // first match wins
};

// The method as a scheme name spells it: rtn, gptq[-act][-static], awq, sq<alpha> (%g).
std::string MethodName(const SchemeSpec& spec);
// The method's own name: rtn, gptq, awq, smoothquant.
std::string_view MethodName(Method method);

// The exact fp32 reference: no quantization, not even rounding.
SchemeSpec Fp32Scheme();

// Bad names fail with a message that lists the valid forms.
absl::StatusOr<SchemeSpec> ParseScheme(std::string_view name);
std::string SchemeName(const SchemeSpec& spec);  // canonical, with "+overrides" when rules exist
std::string SchemeJson(const SchemeSpec& spec);
std::string SchemeToYaml(const SchemeSpec& spec);
absl::StatusOr<SchemeSpec> SchemeFromYaml(const std::string& yaml);
// The projection types overrides name: q k v o gate up down.
const std::vector<std::string>& ProjectionTypes();
// An override's layers: "A-B", "A" (first = last = A) or "A-" (last = -1:
// every layer from A). Errors say which form was expected.
absl::StatusOr<std::pair<int64_t, int64_t>> ParseLayerRange(const std::string& layers);

// What the pipeline passes around as "the scheme": a name (ParseScheme), or
// a YAML spec with `scheme:` and `overrides:` (SchemeFromYaml), which a sweep
// config's named entries carry. Names never contain ':', specs always do.
absl::StatusOr<SchemeSpec> ResolveScheme(const std::string& text);

// What tensors outside the quantized projections become: the base format
// for fp32 / bf16 / fp16, bf16 otherwise.
WeightFormat UnquantizedFormat(const SchemeSpec& spec);

// What the tensor of that canonical name becomes.
WeightFormat FormatFor(const SchemeSpec& spec, std::string_view tensor_name);

}  // namespace qsweep
