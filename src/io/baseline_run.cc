#include "io/baseline_run.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

class BaselineRunHidden : public BaselineHidden {
 public:
  BaselineRunHidden(h5::File file, std::vector<std::string> datasets, int64_t hidden, bool bf16)
      : file_(std::move(file)), datasets_(std::move(datasets)), hidden_(hidden), bf16_(bf16) {}
  int64_t hidden_size() const override { return hidden_; }
  bool bf16() const override { return bf16_; }
  absl::StatusOr<std::vector<float>> Rows(int64_t corpus, int64_t first, int64_t count) override {
    QSWEEP_CHECK(corpus >= 0 && corpus < static_cast<int64_t>(datasets_.size()));
    return file_.ReadFloatRows(datasets_[corpus], first, count);
  }
  absl::StatusOr<std::vector<uint16_t>> RowsBf16(int64_t corpus, int64_t first, int64_t count) override {
    QSWEEP_CHECK(corpus >= 0 && corpus < static_cast<int64_t>(datasets_.size()) && bf16_);
    return file_.ReadBf16Rows(datasets_[corpus], first, count);
  }

 private:
  h5::File file_;
  std::vector<std::string> datasets_;  // each corpus's final hidden states
  int64_t hidden_;
  bool bf16_;
};

}  // namespace

std::string HiddenDTypeName(DType t) {
  switch (t) {
    case DType::kBF16: return "bf16";
    case DType::kF16: return "f16";
    default: return "f32";
  }
}

absl::StatusOr<OpenedBaseline> OpenBaselineRun(const std::string& path, const RunHeader& cand,
                                               const RequestSet& requests, DType compute_type) {
  const std::string why = absl::StrFormat("the exact token statistics of %s are computed against it", cand.scheme);
  if (!std::filesystem::exists(path))
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the baseline run is missing (%s): run the baseline first, or set scoring.exact_token_stats: false",
        path, why));
  absl::StatusOr<RunHeader> read = ReadRunHeader(path);
  if (!read.ok())
    return absl::FailedPreconditionError(absl::StrFormat("baseline run: %s (%s)", read.status().message(), why));
  const RunHeader& b = *read;
  auto refuse = [&](const std::string& what) {
    return absl::FailedPreconditionError(absl::StrFormat("%s: %s; %s, so nothing is computed against it", path,
                                                         what, why));
  };
  if (b.model_id != cand.model_id)
    return refuse(absl::StrFormat("a run of another model (%s, id %s) than %s's (%s, id %s)", b.model, b.model_id,
                                  cand.scheme, cand.model, cand.model_id));
  if (b.requests_id != cand.requests_id)
    return refuse(absl::StrFormat("it scored other requests (id %s, not %s): another task set or tokenization",
                                  b.requests_id, cand.requests_id));
  if (b.backend != cand.backend)
    return refuse(absl::StrFormat("it ran on the %s backend, %s runs on %s: its logits cannot be recomputed here",
                                  Name(b.backend), cand.scheme, Name(cand.backend)));
  if (b.hidden_dtype.empty())
    return refuse("it kept no final hidden states (made with scoring.exact_token_stats off, or before them): rerun "
                  "the baseline");
  if (b.hidden_dtype != HiddenDTypeName(compute_type))
    return refuse(absl::StrFormat("its hidden states are %s and %s computes in %s: give both one precision",
                                  b.hidden_dtype, cand.scheme, HiddenDTypeName(compute_type)));
  if (b.hidden_size <= 0) return refuse(absl::StrFormat("its hidden size is %d", b.hidden_size));
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  std::vector<std::string> datasets;
  for (const PplCorpusRequests& c : requests.corpora) {
    const std::string name =
        absl::StrFormat("/ppl/%s/%s", c.name, b.hidden_dtype == "bf16" ? "final_hidden_bf16" : "final_hidden");
    absl::StatusOr<std::vector<int64_t>> dims = f.Dims(name);
    if (!dims.ok()) return refuse(std::string(dims.status().message()));
    if (*dims != std::vector<int64_t>{c.scored_tokens(), b.hidden_size})
      return refuse(absl::StrFormat("%s is [%s], not [%d, %d]", name,
                                    dims->size() == 2 ? absl::StrFormat("%d, %d", (*dims)[0], (*dims)[1]) : "?",
                                    c.scored_tokens(), b.hidden_size));
    datasets.push_back(name);
  }
  OpenedBaseline out;
  out.run_id = RunId(b);
  out.hidden = std::make_unique<BaselineRunHidden>(std::move(f), std::move(datasets), b.hidden_size,
                                                   b.hidden_dtype == "bf16");
  return out;
}

}  // namespace qsweep
