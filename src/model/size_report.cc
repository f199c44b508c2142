#include "model/size_report.h"

#include <map>
#include <regex>

#include "absl/strings/str_format.h"

namespace qsweep {
namespace {

std::string TensorType(const std::string& name) {
  if (name.find("embed_tokens") != std::string::npos) return "embed";
  if (name.find("lm_head") != std::string::npos) return "head";
  if (name.find("norm") != std::string::npos) return "norm";
  if (name.ends_with(".bias")) return "bias";
  static const std::regex kProj(R"(.*\.(\w+)_proj\.weight)");
  std::smatch m;
  if (std::regex_match(name, m, kProj)) return m[1];
  return "other";
}

}  // namespace

SizeReport ComputeSizes(const SchemeSpec& spec, const std::vector<TensorInfo>& tensors) {
  SizeReport r;
  r.scheme = SchemeName(spec);
  std::map<std::string, size_t> index;
  static const std::vector<std::string> kOrder = {"embed", "q", "k", "v", "o", "gate", "up", "down", "norm", "bias", "head", "other"};
  for (const std::string& t : kOrder) {
    index[t] = r.rows.size();
    r.rows.push_back({t, "", 0, 0});
  }
  for (const TensorInfo& t : tensors) {
    const WeightFormat f = FormatFor(spec, t.name);
    const int64_t in = t.shape.size() == 2 ? t.shape[1] : t.numel();
    const double bits = f.BitsPerWeight(in) * static_cast<double>(t.numel());
    SizeRow& row = r.rows[index[TensorType(t.name)]];
    row.params += t.numel();
    row.bits += bits;
    if (row.format.empty()) row.format = f.Describe();
    else if (row.format != f.Describe() && row.format.find("mixed") == std::string::npos) row.format += " (mixed)";
    r.params += t.numel();
    r.bits += bits;
    if (f.quantized()) {
      r.quantized_params += t.numel();
      r.quantized_bits += bits;
    }
  }
  std::erase_if(r.rows, [](const SizeRow& row) { return row.params == 0; });
  return r;
}

std::string FormatSizeReport(const SizeReport& r) {
  // Decimal units, as disk and HBM sizes are quoted.
  auto size = [](double bits) {
    const double bytes = bits / 8;
    if (bytes >= 1e9) return absl::StrFormat("%.2f GB", bytes / 1e9);
    if (bytes >= 1e6) return absl::StrFormat("%.2f MB", bytes / 1e6);
    return absl::StrFormat("%.1f KB", bytes / 1e3);
  };
  std::string s = absl::StrFormat("scheme %s\n%-6s %-22s %16s %8s %12s\n", r.scheme, "type", "format", "params",
                                  "bits/w", "size");
  for (const SizeRow& row : r.rows)
    s += absl::StrFormat("%-6s %-22s %16d %8.3f %12s\n", row.type, row.format, row.params, row.bits / row.params,
                         size(row.bits));
  s += absl::StrFormat("%-6s %-22s %16d %8.3f %12s\n", "total", "", r.params, r.bits_per_weight(), size(r.bits));
  if (r.quantized_params)
    s += absl::StrFormat("quantized weights: %d params at %.4f bits per weight (%s)\n", r.quantized_params,
                         r.bits_per_quantized_weight(), size(r.quantized_bits));
  return s;
}

}  // namespace qsweep
