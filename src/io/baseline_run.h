// The baseline run that a candidate's exact token statistics are computed
// against, read from its run file: checked once against the candidate's run
// (the same model, requests and backend; final hidden states kept, in the
// candidate's compute type, of every corpus at the right shape), then read a
// row range at a time as the candidate scores.
#pragma once
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "eval/baseline_hidden.h"
#include "eval/requests.h"
#include "io/run_file.h"

namespace qsweep {

struct OpenedBaseline {
  std::unique_ptr<BaselineHidden> hidden;
  std::string run_id;  // RunId of its header, for the candidate's header
};

// `candidate`: the candidate's header (model, requests, backend);
// `compute_type`: the candidate backend's, which must hold the baseline's
// hidden states exactly as the baseline's did.
absl::StatusOr<OpenedBaseline> OpenBaselineRun(const std::string& path, const RunHeader& candidate,
                                               const RequestSet& requests, DType compute_type);

// The header value of a backend's compute type ("f32", "f16", "bf16").
std::string HiddenDTypeName(DType compute_type);

}  // namespace qsweep
