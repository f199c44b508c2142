// A run's journal as a resume finds it: the header and every record decoded
// and checked before anything is kept.
#include <filesystem>

#include "fuzz_input.h"
#include "io/run_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string run = qsweep::fuzz::ScratchDir() + "/run.h5";
  qsweep::fuzz::WriteInput(data, size, "run.h5.journal");
  { auto j = qsweep::RunJournal::OpenOrCreate(run, qsweep::RunHeader{}); }
  std::filesystem::remove(run + ".journal");
  return 0;
}
