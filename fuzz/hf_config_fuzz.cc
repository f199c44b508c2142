// A checkpoint's config.json.
#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "model/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) (void)qsweep::ParseHfConfig(j, "config.json");
  return 0;
}
