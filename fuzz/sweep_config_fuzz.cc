// The YAML sweep config: parsing, every name rule, every scheme resolved.
#include "fuzz_input.h"
#include "quant/scheme.h"
#include "sweep/sweep_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = qsweep::ParseSweepConfig(qsweep::fuzz::Text(data, size), qsweep::fuzz::ScratchDir() + "/sweep.yaml");
  if (c.ok())
    for (const std::string& s : c->AllSchemes()) (void)qsweep::ResolveScheme(c->SchemeText(s));
  return 0;
}
