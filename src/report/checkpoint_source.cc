#include "report/checkpoint_source.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"

namespace qsweep {

CheckpointSource SourceOf(const std::string& scheme_json) {
  CheckpointSource s{"qsweep", "", ""};
  const nlohmann::json j = nlohmann::json::parse(scheme_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("checkpoint") || !j["checkpoint"].is_object()) return s;
  const nlohmann::json& c = j["checkpoint"];
  s.kind = c.value("file_format", std::string("safetensors"));
  s.path = c.value("path", std::string());
  if (c.contains("formats") && c["formats"].is_object()) {
    for (const auto& [format, count] : c["formats"].items()) {
      if (!count.is_number_integer()) continue;
      if (format.starts_with("gptq-")) s.kind = "gptq";
      if (format.starts_with("awq-")) s.kind = "awq";
      s.formats += absl::StrFormat("%s%s ×%d", s.formats.empty() ? "" : ", ", format, count.get<int64_t>());
    }
  }
  return s;
}

}  // namespace qsweep
