// The HDF5 files qsweep reads back: run, metrics and request files, and a
// baseline run as a candidate opens it (header, hidden-state datasets, a
// row range of each).
#include "fuzz_input.h"
#include "io/baseline_run.h"
#include "io/metrics_reader.h"
#include "io/request_file.h"
#include "io/run_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsweep::fuzz::WriteInput(data, size, "file.h5");
  auto run = qsweep::ReadRunFile(path, /*with_hidden=*/true);
  (void)qsweep::ReadMetricsFile(path);
  (void)qsweep::ReadRequestFile(path);
  if (run.ok()) {
    // The candidate a well-formed file would be the baseline of.
    qsweep::RequestSet requests;
    for (const auto& [name, rows] : run->corpora) {
      qsweep::PplCorpusRequests& c = requests.corpora.emplace_back();
      c.name = name;
      c.tokens.assign(rows.tokens + 1, 0);
    }
    qsweep::RunHeader cand = run->header;
    cand.scheme = "candidate";
    for (const qsweep::DType t : {qsweep::DType::kBF16, qsweep::DType::kF32}) {
      auto opened = qsweep::OpenBaselineRun(path, cand, requests, t);
      if (!opened.ok()) continue;
      for (size_t i = 0; i < requests.corpora.size(); ++i)
        (void)opened->hidden->Rows(static_cast<int64_t>(i), 0, std::min<int64_t>(2, requests.corpora[i].scored_tokens()));
    }
  }
  return 0;
}
