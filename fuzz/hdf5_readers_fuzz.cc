// The HDF5 files qsweep reads back: run, metrics and request files.
#include "fuzz_input.h"
#include "io/metrics_reader.h"
#include "io/request_file.h"
#include "io/run_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsweep::fuzz::WriteInput(data, size, "file.h5");
  (void)qsweep::ReadRunFile(path);
  (void)qsweep::ReadMetricsFile(path);
  (void)qsweep::ReadRequestFile(path);
  return 0;
}
