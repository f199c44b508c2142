// The run file: one HDF5 per (model, scheme, request set), every per-sample
// and per-token result, so every metric is recomputed offline. Schema in
// docs/run_file.md.
//
// Resumability: HDF5 1.10 without SWMR is not safe against kill -9 during a
// write, so finished work units go to an append-only journal beside the run
// file (<run>.h5.journal: checksummed records, fsync'd). A restarted run
// keeps the journal's units and scores the rest; when all are in, the HDF5
// file is written to <run>.h5.tmp, marked complete (root attribute
// `complete` = 1, written last) and renamed into place. Rows are placed by
// each unit's row range, so the data do not depend on arrival order or on
// interruptions.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/run_layout.h"
#include "core/run_performance.h"
#include "eval/work_units.h"

namespace qsweep {

inline constexpr int64_t kRunSchemaVersion = 1;

struct RunHeader {
  int64_t schema_version = kRunSchemaVersion;
  std::string qsweep_version;
  std::string model;        // what the user named
  std::string model_id;     // the checkpoint's content id
  std::string scheme;       // canonical scheme name
  std::string scheme_json;
  std::string requests_id;  // RequestSet::ContentId()
  std::string world;        // display text: "4 ranks: 2 replicas x tp 2, cpu backend"
  std::string created;      // ISO 8601, from the run's first start
  std::string config_yaml;
  int64_t topk = 0;
  int64_t vocab_size = 0;
  bool full_logprobs = false;
  double bits_per_weight = 0;  // over every parameter, scales and zeros included
  int64_t model_bytes = 0;     // the quantized model's packed size
  // The layout it ran on (what `world` shows): ranks = replicas × tp.
  int64_t ranks = 1;
  int64_t replicas = 1;
  int64_t tp = 1;
  BackendKind backend = BackendKind::kCpu;
  Reduction reduction = Reduction::kTpInvariant;
  // Whether each sample's results are independent of what else its batches
  // held (every run since batch-invariant GPU scoring; files of before it
  // read false): then two runs of one model differ by the scheme alone.
  bool batch_invariant = false;
  // Exact token statistics (absent in files of before them: empty/0). A
  // baseline keeps its final hidden states, of `hidden_size` values per
  // scored token in `hidden_dtype` ("f32", "f16" or "bf16": the backend's
  // compute type); a candidate compared with a baseline names it by its
  // RunId.
  std::string hidden_dtype;
  int64_t hidden_size = 0;
  std::string baseline_run_id;
};

// A run's identity, for candidates that were computed against it: its model,
// scheme, requests, layout and the time it started (a rerun is another run).
std::string RunId(const RunHeader& h);

// Whether a journal resumes under a header whose field has another value.
enum class OnResume {
  kMayDiffer,  // it describes the run (names, versions, times)
  kMustMatch,  // another value is another run
  // ... when either run's reduction is fast, whose results depend on it;
  // a tp-invariant run resumes at any layout.
  kMustMatchIfFast,
};

struct HeaderField {
  const char* name;  // the run file's root attribute, and the journal's order
  OnResume on_resume = OnResume::kMayDiffer;
  const char* means = "";  // what another value says (for RunMismatch's message)
  // Part of the typed layout, which run files of before it was stored
  // (schema 1 files without a `backend` attribute) give only in `world`.
  bool layout = false;
  // Added since schema 1 was first written: absent, it reads as its default.
  bool optional = false;
};

// RunHeader's fields, for the journal, the run file's attributes and
// RunMismatch: f(field, value of each header given).
template <typename F, typename... Headers>
void ForEachField(F&& f, Headers&... h)
  requires(std::is_same_v<std::remove_const_t<Headers>, RunHeader> && ...)
{
  using enum OnResume;
  f(HeaderField{"schema_version", kMustMatch}, h.schema_version...);
  f(HeaderField{"qsweep_version"}, h.qsweep_version...);
  f(HeaderField{"model"}, h.model...);
  f(HeaderField{"model_id", kMustMatch, "another checkpoint"}, h.model_id...);
  f(HeaderField{"scheme", kMustMatch}, h.scheme...);
  f(HeaderField{"scheme_json"}, h.scheme_json...);
  f(HeaderField{"requests_id", kMustMatch, "another task set or tokenization"}, h.requests_id...);
  f(HeaderField{"world"}, h.world...);
  f(HeaderField{"created"}, h.created...);
  f(HeaderField{"config_yaml"}, h.config_yaml...);
  f(HeaderField{"topk", kMustMatch, "another scoring option"}, h.topk...);
  f(HeaderField{"vocab_size", kMustMatch, "another scoring option"}, h.vocab_size...);
  f(HeaderField{"full_logprobs", kMustMatch, "another scoring option"}, h.full_logprobs...);
  f(HeaderField{"bits_per_weight"}, h.bits_per_weight...);
  f(HeaderField{"model_bytes"}, h.model_bytes...);
  f(HeaderField{.name = "ranks", .layout = true}, h.ranks...);
  f(HeaderField{.name = "replicas", .layout = true}, h.replicas...);
  const char* fast = "a fast reduction's results depend on it";
  f(HeaderField{.name = "tp", .on_resume = kMustMatchIfFast, .means = fast, .layout = true}, h.tp...);
  f(HeaderField{.name = "backend", .on_resume = kMustMatchIfFast, .means = fast, .layout = true}, h.backend...);
  f(HeaderField{.name = "reduction", .on_resume = kMustMatchIfFast, .means = fast, .layout = true}, h.reduction...);
  f(HeaderField{.name = "batch_invariant", .on_resume = kMustMatch, .means = "another batching rule", .layout = true},
    h.batch_invariant...);
  f(HeaderField{.name = "hidden_dtype", .on_resume = kMustMatch, .means = "another scoring option", .optional = true},
    h.hidden_dtype...);
  f(HeaderField{.name = "hidden_size", .on_resume = kMustMatch, .means = "another scoring option", .optional = true},
    h.hidden_size...);
  f(HeaderField{.name = "baseline_run_id", .on_resume = kMustMatch, .means = "another baseline run",
                .optional = true},
    h.baseline_run_id...);
}

// Why two headers cannot belong to the same run (empty when they can).
std::string RunMismatch(const RunHeader& existing, const RunHeader& wanted);

class RunJournal {
 public:
  // Opens `<run_path>.journal`, or creates it. An existing journal must
  // belong to the same run (model, scheme, requests, scoring); a torn last
  // record (crash mid-write) is dropped. With `plan`, every unit already in
  // the journal must cover the rows the plan gives its id (else the unit
  // sizes changed since the interrupted run: an error now, not at Finalize).
  // Holds an exclusive lock on <run_path>.lock while it lives: a second
  // writer of the same run is refused at once.
  static absl::StatusOr<std::unique_ptr<RunJournal>> OpenOrCreate(const std::string& run_path,
                                                                  const RunHeader& header,
                                                                  const std::vector<WorkUnit>* plan = nullptr);
  ~RunJournal();
  const RunHeader& header() const { return header_; }
  const std::set<int64_t>& done() const { return done_; }
  absl::Status Append(const WorkUnit& unit, const UnitResult& result);
  // Writes the complete run file and removes the journal. Every record is
  // checked against `units` (the placement it was appended with).
  // `performance` (measured by the caller) goes into the file's
  // /performance group when measured.
  absl::Status Finalize(const RequestSet& requests, const std::vector<WorkUnit>& units,
                        const RunPerformance& performance = {});

 private:
  RunJournal() = default;
  std::string run_path_, journal_path_, lock_path_;
  RunHeader header_;
  std::set<int64_t> done_;
  int fd_ = -1, lock_fd_ = -1;  // the journal; <run>.lock, flock'd while this object lives
};

struct RunData {
  RunHeader header;
  RunPerformance performance;  // not measured in files made before it was
  std::vector<std::pair<std::string, ChoiceRows>> tasks;
  std::vector<std::pair<std::string, TokenRows>> corpora;
  std::vector<std::pair<std::string, GenRows>> gens;  // generative tasks (/generate)
};

// Refuses a file that is not complete or has another schema version. A
// baseline's final hidden states are read only when asked for.
absl::StatusOr<RunData> ReadRunFile(const std::string& path, bool with_hidden = false);
// The header alone, with the same checks.
absl::StatusOr<RunHeader> ReadRunHeader(const std::string& path);
std::string DescribeRunFile(const RunData& run, const std::string& path);

}  // namespace qsweep
