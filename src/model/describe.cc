#include "model/describe.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace qsweep {

std::string WithThousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// "70.55 B", "260.03 K": three significant-ish digits in the largest unit
// that keeps the number at or above 1.
static std::string Scaled(int64_t n, const char* const units[4]) {
  double v = static_cast<double>(n);
  int u = 0;
  while (u < 3 && v >= 1000.0) {
    v /= 1000.0;
    ++u;
  }
  if (u > 0) return absl::StrFormat("%.2f %s", v, units[u]);
  return *units[0] ? absl::StrFormat("%d %s", n, units[0]) : absl::StrCat(n);
}

static std::string DescribeRope(const ModelConfig& c) {
  const RopeScaling& s = c.rope_scaling;
  std::string out = absl::StrFormat("%s, theta %g", RopeTypeName(s.type), c.rope_theta);
  if (s.type == RopeType::kLinear) absl::StrAppendFormat(&out, ", factor %g", s.factor);
  if (s.type == RopeType::kLlama3)
    absl::StrAppendFormat(&out,
                          ", factor %g, low_freq_factor %g, high_freq_factor %g, "
                          "original_max_position_embeddings %d",
                          s.factor, s.low_freq_factor, s.high_freq_factor,
                          s.original_max_position_embeddings);
  return out;
}

std::string DescribeCheckpoint(const Checkpoint& ckpt) {
  const ModelConfig& c = ckpt.config();
  const int64_t params = c.ParameterCount();
  std::map<std::string, int> dtypes;
  for (const auto& t : ckpt.tensors()) dtypes[std::string(DTypeName(t.dtype))]++;
  std::vector<std::string> dtype_parts;
  for (const auto& [name, n] : dtypes) dtype_parts.push_back(absl::StrCat(name, " x", n));

  std::string out;
  absl::StrAppendFormat(&out, "checkpoint:    %s\n", ckpt.source());
  absl::StrAppendFormat(&out, "architecture:  %s\n", c.architecture);
  absl::StrAppendFormat(&out, "dims:          vocab %d, hidden %d, intermediate %d, layers %d\n",
                        c.vocab_size, c.hidden_size, c.intermediate_size, c.num_layers);
  absl::StrAppendFormat(&out, "attention:     heads %d, kv heads %d, head_dim %d, bias %s\n",
                        c.num_heads, c.num_kv_heads, c.head_dim,
                        c.attention_bias ? "q/k/v" : "none");
  absl::StrAppendFormat(&out, "rope:          %s\n", DescribeRope(c));
  absl::StrAppendFormat(&out, "positions:     %d, rms_norm_eps %g\n", c.max_position_embeddings,
                        c.rms_norm_eps);
  if (c.sliding_window > 0)
    absl::StrAppendFormat(&out, "window:        sliding, %d tokens\n", c.sliding_window);
  absl::StrAppendFormat(&out, "embeddings:    %s\n",
                        c.tie_word_embeddings ? "tied (lm_head = embed_tokens)" : "untied");
  static const char* const kCountUnits[] = {"", "K", "M", "B"};
  static const char* const kByteUnits[] = {"bytes", "KB", "MB", "GB"};
  absl::StrAppendFormat(&out, "parameters:    %s (%s)\n", Scaled(params, kCountUnits),
                        WithThousands(params));
  absl::StrAppendFormat(&out, "tensors:       %d (%s)\n", ckpt.tensors().size(),
                        absl::StrJoin(dtype_parts, ", "));
  absl::StrAppendFormat(&out, "size:          %s (%s bytes)\n",
                        Scaled(ckpt.TotalBytes(), kByteUnits), WithThousands(ckpt.TotalBytes()));
  const auto ignored = ckpt.ignored_tensors();
  if (!ignored.empty()) {
    std::vector<std::string> first(ignored.begin(),
                                   ignored.begin() + std::min<size_t>(ignored.size(), 3));
    absl::StrAppendFormat(&out, "ignored:       %d tensors the config does not use (%s%s)\n",
                          ignored.size(), absl::StrJoin(first, ", "),
                          ignored.size() > 3 ? ", ..." : "");
  }
  absl::StrAppendFormat(&out, "content id:    %s\n", ckpt.content_id());
  return out;
}

}  // namespace qsweep
