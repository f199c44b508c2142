#include "io/run_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_format.h"
#include "core/byte_buffer.h"
#include "core/status_macros.h"
#include "eval/unit_codec.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

// The last byte is the journal format version: records and header layout
// change together with it, and a journal of another version is refused, not
// misread (a resume needs the qsweep that started the run).
constexpr char kMagic[8] = {'Q', 'S', 'W', 'J', 'R', 'N', 'L', '2'};
constexpr size_t kMagicPrefix = 7;

uint64_t Checksum(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::vector<uint8_t> EncodeHeader(const RunHeader& h) {
  ByteWriter w;
  w.Put<int64_t>(h.schema_version);
  for (const std::string* s : {&h.qsweep_version, &h.model, &h.model_id, &h.scheme, &h.scheme_json,
                               &h.requests_id, &h.world, &h.created, &h.config_yaml})
    w.PutString(*s);
  w.Put<int64_t>(h.topk);
  w.Put<int64_t>(h.vocab_size);
  w.Put<uint8_t>(h.full_logprobs);
  w.Put<double>(h.bits_per_weight);
  w.Put<int64_t>(h.model_bytes);
  return std::move(w.bytes());
}

RunHeader DecodeHeader(const std::vector<uint8_t>& bytes) {
  ByteReader r(bytes);
  RunHeader h;
  h.schema_version = r.Get<int64_t>();
  for (std::string* s : {&h.qsweep_version, &h.model, &h.model_id, &h.scheme, &h.scheme_json,
                         &h.requests_id, &h.world, &h.created, &h.config_yaml})
    *s = r.GetString();
  h.topk = r.Get<int64_t>();
  h.vocab_size = r.Get<int64_t>();
  h.full_logprobs = r.Get<uint8_t>();
  h.bits_per_weight = r.Get<double>();
  h.model_bytes = r.Get<int64_t>();
  return h;
}

// One record: [u64 payload length][u64 checksum][payload].
absl::Status WriteRecord(int fd, const std::vector<uint8_t>& payload, const std::string& path) {
  ByteWriter w;
  w.Put<uint64_t>(payload.size());
  w.Put<uint64_t>(Checksum(payload.data(), payload.size()));
  std::vector<uint8_t>& bytes = w.bytes();
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) return absl::InternalError(absl::StrFormat("%s: write failed (disk full?)", path));
    off += n;
  }
  if (::fdatasync(fd) != 0) return absl::InternalError(absl::StrFormat("%s: fsync failed", path));
  return absl::OkStatus();
}

enum class JournalState { kAbsent, kOtherVersion, kOk };

// Visits the records that are whole and intact, one at a time (a journal can
// be much larger than memory); `good_end` is the offset where they stop. A
// torn or corrupt record ends the scan: nothing after it can be trusted.
template <typename Visit>
JournalState ScanJournal(const std::string& path, int64_t* good_end, Visit visit) {
  *good_end = 0;
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof(kMagic)];
  if (!in.read(magic, sizeof magic)) return JournalState::kAbsent;  // empty or torn before the magic
  if (std::memcmp(magic, kMagic, kMagicPrefix) != 0) return JournalState::kAbsent;
  if (magic[kMagicPrefix] != kMagic[kMagicPrefix]) return JournalState::kOtherVersion;
  *good_end = sizeof(kMagic);
  std::vector<uint8_t> payload;
  for (;;) {
    uint64_t head[2];
    if (!in.read(reinterpret_cast<char*>(head), sizeof head)) break;
    const uint64_t len = head[0];
    if (len > (uint64_t{1} << 40)) break;  // a torn length, not a real record
    payload.resize(len);
    if (!in.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(len))) break;
    if (Checksum(payload.data(), len) != head[1]) break;
    *good_end += static_cast<int64_t>(sizeof head + len);
    if (!visit(payload)) break;
  }
  return JournalState::kOk;
}

// A unit record: where the unit's rows go, then its rows. The placement is
// stored so that a resume under another unit plan (scoring.samples_per_unit
// or windows_per_unit changed) is refused instead of placing rows wrongly.
struct UnitPlacement {
  int64_t id = 0, kind = 0, source = 0, begin = 0, end = 0, first_row = 0;
  bool operator==(const UnitPlacement&) const = default;
};

UnitPlacement PlacementOf(const WorkUnit& u) {
  return {u.id, u.kind == WorkUnit::Kind::kChoices ? 0 : 1, u.source, u.begin, u.end, u.first_row};
}

UnitPlacement GetPlacement(ByteReader& r) {
  UnitPlacement p;
  for (int64_t* v : {&p.id, &p.kind, &p.source, &p.begin, &p.end, &p.first_row}) *v = r.Get<int64_t>();
  return p;
}

std::string DescribePlacement(const UnitPlacement& p) {
  return absl::StrFormat("%s %d, %s [%d, %d)", p.kind == 0 ? "task" : "corpus", p.source,
                         p.kind == 0 ? "samples" : "windows", p.begin, p.end);
}

// Why a journal's unit does not belong to this run's plan (empty when it does).
std::string PlanMismatch(const UnitPlacement& stored, const std::vector<WorkUnit>& plan) {
  if (stored.id < 0 || stored.id >= static_cast<int64_t>(plan.size()))
    return absl::StrFormat("unit %d is not in this run's plan of %d units", stored.id, plan.size());
  const UnitPlacement want = PlacementOf(plan[stored.id]);
  if (stored == want) return "";
  return absl::StrFormat("unit %d covers %s there but %s in this run", stored.id, DescribePlacement(stored),
                         DescribePlacement(want));
}

std::string Now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

std::string RunMismatch(const RunHeader& a, const RunHeader& b) {
  if (a.schema_version != b.schema_version)
    return absl::StrFormat("schema version %d, not %d", a.schema_version, b.schema_version);
  if (a.model_id != b.model_id) return absl::StrFormat("model %s (id %s), not %s (id %s)", a.model, a.model_id, b.model, b.model_id);
  if (a.scheme != b.scheme) return absl::StrFormat("scheme %s, not %s", a.scheme, b.scheme);
  if (a.requests_id != b.requests_id)
    return absl::StrFormat("requests %s, not %s (another task set or tokenization)", a.requests_id, b.requests_id);
  if (a.topk != b.topk || a.full_logprobs != b.full_logprobs || a.vocab_size != b.vocab_size)
    return "other scoring options (top-K, full log-probs or vocabulary)";
  // A fast reduction rounds by tp (DecoderOptions::tp_invariant): its units
  // mix only with units of the same tp, backend and reduction ("tp 2, cuda
  // backend, fast reduction"); the replicas do not matter.
  const auto fast = [](const RunHeader& h) { return h.world.find(", fast reduction") != std::string::npos; };
  const auto numerics = [](const std::string& world) {
    const size_t tp = world.find("tp ");
    return tp == std::string::npos ? world : world.substr(tp);
  };
  if ((fast(a) || fast(b)) && numerics(a.world) != numerics(b.world))
    return absl::StrFormat("made on '%s', not '%s' (a fast reduction's results depend on tp)", a.world, b.world);
  return "";
}

absl::StatusOr<std::unique_ptr<RunJournal>> RunJournal::OpenOrCreate(const std::string& run_path,
                                                                      const RunHeader& wanted,
                                                                      const std::vector<WorkUnit>* plan) {
  std::unique_ptr<RunJournal> j(new RunJournal());
  j->run_path_ = run_path;
  j->journal_path_ = run_path + ".journal";
  std::filesystem::create_directories(std::filesystem::path(run_path).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(run_path).parent_path());
  int64_t good_end = 0;
  bool have_header = false;
  std::string mismatch;
  const JournalState state = ScanJournal(j->journal_path_, &good_end, [&](const std::vector<uint8_t>& rec) {
    ByteReader r(rec);
    if (!have_header) {
      j->header_ = DecodeHeader(rec);
      have_header = true;
      mismatch = RunMismatch(j->header_, wanted);
      if (!mismatch.empty()) mismatch = absl::StrFormat("an unfinished run of another configuration is here (%s)", mismatch);
      return mismatch.empty();
    }
    const UnitPlacement p = GetPlacement(r);
    if (plan) {
      mismatch = PlanMismatch(p, *plan);
      if (!mismatch.empty()) {
        mismatch = absl::StrFormat("the unfinished run here was cut into other work units (%s: "
                                   "scoring.samples_per_unit or windows_per_unit changed; restore them)", mismatch);
        return false;
      }
    }
    j->done_.insert(p.id);
    return true;
  });
  if (state == JournalState::kOtherVersion)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: a journal of another qsweep version (format %c); finish the run with that version, or remove "
        "the journal to start over", j->journal_path_, kMagic[kMagicPrefix]));
  if (!mismatch.empty())
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: %s; remove the journal to start over", j->journal_path_, mismatch));
  if (have_header) {
    // Drop a torn tail so that new records follow the last intact one.
    std::error_code ec;
    std::filesystem::resize_file(j->journal_path_, good_end, ec);
    if (ec) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot truncate: %s", j->journal_path_, ec.message()));
    j->fd_ = ::open(j->journal_path_.c_str(), O_WRONLY | O_APPEND);
  } else {
    // No journal, or one torn before its header was whole: start afresh.
    j->header_ = wanted;
    j->header_.created = wanted.created.empty() ? Now() : wanted.created;
    j->fd_ = ::open(j->journal_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (j->fd_ >= 0) {
      if (::write(j->fd_, kMagic, sizeof(kMagic)) != sizeof(kMagic))
        return absl::InternalError(absl::StrFormat("%s: write failed", j->journal_path_));
      QSWEEP_RETURN_IF_ERROR(WriteRecord(j->fd_, EncodeHeader(j->header_), j->journal_path_));
    }
  }
  if (j->fd_ < 0)
    return absl::PermissionDeniedError(absl::StrFormat("%s: cannot open for writing", j->journal_path_));
  return j;
}

RunJournal::~RunJournal() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RunJournal::Append(const WorkUnit& unit, const UnitResult& result) {
  ByteWriter w;
  const UnitPlacement p = PlacementOf(unit);
  for (int64_t v : {p.id, p.kind, p.source, p.begin, p.end, p.first_row}) w.Put<int64_t>(v);
  w.PutVector(EncodeUnitResult(result));
  QSWEEP_RETURN_IF_ERROR(WriteRecord(fd_, w.bytes(), journal_path_));
  done_.insert(unit.id);
  return absl::OkStatus();
}

namespace {

template <typename T>
void Place(std::vector<T>& dst, const std::vector<T>& src, int64_t first_row, int64_t width) {
  std::copy(src.begin(), src.end(), dst.begin() + first_row * width);
}

absl::Status WriteHeaderAttrs(h5::File& f, const RunHeader& h) {
  QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "schema_version", h.schema_version));
  const std::pair<const char*, const std::string*> strings[] = {
      {"qsweep_version", &h.qsweep_version}, {"model", &h.model}, {"model_id", &h.model_id},
      {"scheme", &h.scheme}, {"scheme_json", &h.scheme_json}, {"requests_id", &h.requests_id},
      {"world", &h.world}, {"created", &h.created}, {"config_yaml", &h.config_yaml}};
  for (const auto& [k, v] : strings) QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", k, *v));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "topk", h.topk));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "vocab_size", h.vocab_size));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "model_bytes", h.model_bytes));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr("/", "bits_per_weight", h.bits_per_weight));
  return f.SetAttr("/", "full_logprobs", static_cast<int64_t>(h.full_logprobs));
}

}  // namespace

absl::Status RunJournal::Finalize(const RequestSet& requests, const std::vector<WorkUnit>& units) {
  for (const WorkUnit& u : units)
    if (!done_.count(u.id))
      return absl::FailedPreconditionError(absl::StrFormat("%s: unit %d is not done", journal_path_, u.id));
  // Assemble every array at its full size, then place each unit's rows.
  std::vector<ChoiceRows> tasks(requests.tasks.size());
  for (size_t t = 0; t < tasks.size(); ++t) {
    const int64_t n = static_cast<int64_t>(requests.tasks[t].samples.size());
    const int64_t c = requests.tasks[t].max_choices();
    ChoiceRows& r = tasks[t];
    r.samples = n;
    r.max_choices = c;
    r.sample_id.assign(n, 0);
    r.label.assign(n, 0);
    r.n_choices.assign(n, 0);
    r.choice_logprob.assign(n * c, NAN);
    r.choice_tokens.assign(n * c, 0);
    r.choice_bytes.assign(n * c, 0);
    r.choice_greedy.assign(n * c, 0);
  }
  std::vector<TokenRows> corpora(requests.corpora.size());
  for (size_t i = 0; i < corpora.size(); ++i) {
    const int64_t n = requests.corpora[i].scored_tokens();
    TokenRows& r = corpora[i];
    r.tokens = n;
    r.topk = static_cast<int>(header_.topk);
    r.vocab = header_.full_logprobs ? header_.vocab_size : 0;
    r.token_id.assign(n, 0);
    r.nll.assign(n, 0);
    r.logsumexp.assign(n, 0);
    r.is_argmax.assign(n, 0);
    r.topk_id.assign(n * r.topk, 0);
    r.topk_logprob.assign(n * r.topk, 0);
    r.logprob_f16.assign(n * r.vocab, 0);
  }
  // Rows are placed by the plan's row ranges, never by arrival order; each
  // record must sit exactly where the plan puts its unit.
  int64_t good_end = 0;
  bool first = true;
  absl::Status status;
  auto fail = [&](int64_t id, const std::string& why) {
    status = absl::DataLossError(absl::StrFormat("%s: unit %d: %s", journal_path_, id, why));
    return false;
  };
  ScanJournal(journal_path_, &good_end, [&](const std::vector<uint8_t>& rec) {
    if (first) {  // the header record
      first = false;
      return true;
    }
    ByteReader rd(rec);
    const UnitPlacement p = GetPlacement(rd);
    if (std::string why = PlanMismatch(p, units); !why.empty()) return fail(p.id, why);
    const WorkUnit& u = units[p.id];
    const UnitResult result = DecodeUnitResult(rd.GetVector<uint8_t>());
    if (const auto* c = std::get_if<ChoiceRows>(&result)) {
      if (u.kind != WorkUnit::Kind::kChoices) return fail(p.id, "choice rows for a perplexity unit");
      ChoiceRows& dst = tasks[u.source];
      const size_t n = static_cast<size_t>(u.end - u.begin), nc = n * dst.max_choices;
      if (c->max_choices != dst.max_choices || c->samples != u.end - u.begin || c->sample_id.size() != n ||
          c->label.size() != n || c->n_choices.size() != n || c->choice_logprob.size() != nc ||
          c->choice_tokens.size() != nc || c->choice_bytes.size() != nc || c->choice_greedy.size() != nc)
        return fail(p.id, "rows do not fit the task");
      Place(dst.sample_id, c->sample_id, u.first_row, 1);
      Place(dst.label, c->label, u.first_row, 1);
      Place(dst.n_choices, c->n_choices, u.first_row, 1);
      Place(dst.choice_logprob, c->choice_logprob, u.first_row, dst.max_choices);
      Place(dst.choice_tokens, c->choice_tokens, u.first_row, dst.max_choices);
      Place(dst.choice_bytes, c->choice_bytes, u.first_row, dst.max_choices);
      Place(dst.choice_greedy, c->choice_greedy, u.first_row, dst.max_choices);
    } else {
      if (u.kind != WorkUnit::Kind::kTokens) return fail(p.id, "token rows for a multiple-choice unit");
      const auto& t = std::get<TokenRows>(result);
      TokenRows& dst = corpora[u.source];
      const size_t n = static_cast<size_t>(t.tokens);
      if (t.tokens < 0 || u.first_row + t.tokens > dst.tokens || t.topk != dst.topk || t.vocab != dst.vocab ||
          t.token_id.size() != n || t.nll.size() != n || t.logsumexp.size() != n || t.is_argmax.size() != n ||
          t.topk_id.size() != n * t.topk || t.topk_logprob.size() != n * t.topk ||
          t.logprob_f16.size() != n * t.vocab)
        return fail(p.id, "rows do not fit the corpus");
      Place(dst.token_id, t.token_id, u.first_row, 1);
      Place(dst.nll, t.nll, u.first_row, 1);
      Place(dst.logsumexp, t.logsumexp, u.first_row, 1);
      Place(dst.is_argmax, t.is_argmax, u.first_row, 1);
      Place(dst.topk_id, t.topk_id, u.first_row, dst.topk);
      Place(dst.topk_logprob, t.topk_logprob, u.first_row, dst.topk);
      Place(dst.logprob_f16, t.logprob_f16, u.first_row, dst.vocab);
    }
    return true;
  });
  QSWEEP_RETURN_IF_ERROR(status);

  const std::string tmp = run_path_ + ".tmp";
  {
    QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Create(tmp));
    QSWEEP_RETURN_IF_ERROR(WriteHeaderAttrs(f, header_));
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/tasks"));
    for (size_t t = 0; t < tasks.size(); ++t) {
      const ChoiceRows& r = tasks[t];
      const std::string g = "/tasks/" + requests.tasks[t].name;
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/sample_id", r.sample_id));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/label", r.label));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/n_choices", r.n_choices));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/choice_logprob", r.choice_logprob, r.samples, r.max_choices));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/choice_tokens", r.choice_tokens, r.samples, r.max_choices));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/choice_bytes", r.choice_bytes, r.samples, r.max_choices));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/choice_greedy", r.choice_greedy, r.samples, r.max_choices));
    }
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/ppl"));
    for (size_t i = 0; i < corpora.size(); ++i) {
      const TokenRows& r = corpora[i];
      const std::string g = "/ppl/" + requests.corpora[i].name;
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "window", requests.corpora[i].window));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "stride", requests.corpora[i].stride));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/token_id", r.token_id));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/nll", r.nll));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/logsumexp", r.logsumexp));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/is_argmax", r.is_argmax));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/topk_id", r.topk_id, r.tokens, r.topk, true));
      QSWEEP_RETURN_IF_ERROR(f.Write2D(g + "/topk_logprob", r.topk_logprob, r.tokens, r.topk, true));
      if (r.vocab > 0)
        QSWEEP_RETURN_IF_ERROR(f.Write(g + "/logprob", h5::Type::kF16, {r.tokens, r.vocab},
                                       r.logprob_f16.data(), true));
    }
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/progress"));
    QSWEEP_RETURN_IF_ERROR(f.Write("/progress/unit_done", std::vector<uint8_t>(units.size(), 1)));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "complete", int64_t{1}));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, run_path_, ec);
  if (ec) return absl::InternalError(absl::StrFormat("%s: rename failed: %s", run_path_, ec.message()));
  ::close(fd_);
  fd_ = -1;
  std::filesystem::remove(journal_path_);
  return absl::OkStatus();
}

absl::StatusOr<RunData> ReadRunFile(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  const absl::StatusOr<int64_t> complete =
      f.HasAttr("/", "complete") ? f.GetIntAttr("/", "complete") : absl::StatusOr<int64_t>(0);
  if (!complete.ok() || *complete != 1)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: not a complete run file (the run did not finish; rerun it to resume)", path));
  RunData d;
  RunHeader& h = d.header;
  QSWEEP_ASSIGN_OR_RETURN(h.schema_version, f.GetIntAttr("/", "schema_version"));
  if (h.schema_version != kRunSchemaVersion)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: run file schema version %d; this qsweep reads version %d", path, h.schema_version, kRunSchemaVersion));
  const std::pair<const char*, std::string*> strings[] = {
      {"qsweep_version", &h.qsweep_version}, {"model", &h.model}, {"model_id", &h.model_id},
      {"scheme", &h.scheme}, {"scheme_json", &h.scheme_json}, {"requests_id", &h.requests_id},
      {"world", &h.world}, {"created", &h.created}, {"config_yaml", &h.config_yaml}};
  for (const auto& [k, v] : strings) {
    QSWEEP_ASSIGN_OR_RETURN(*v, f.GetStringAttr("/", k));
  }
  QSWEEP_ASSIGN_OR_RETURN(h.topk, f.GetIntAttr("/", "topk"));
  QSWEEP_ASSIGN_OR_RETURN(h.vocab_size, f.GetIntAttr("/", "vocab_size"));
  QSWEEP_ASSIGN_OR_RETURN(int64_t full, f.GetIntAttr("/", "full_logprobs"));
  h.full_logprobs = full != 0;
  QSWEEP_ASSIGN_OR_RETURN(h.model_bytes, f.GetIntAttr("/", "model_bytes"));
  QSWEEP_ASSIGN_OR_RETURN(h.bits_per_weight, f.GetDoubleAttr("/", "bits_per_weight"));

  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> tasks, f.Children("/tasks"));
  for (const std::string& name : tasks) {
    const std::string g = "/tasks/" + name;
    ChoiceRows r;
    std::vector<int64_t> dims;
    QSWEEP_ASSIGN_OR_RETURN(r.sample_id, f.Read<int64_t>(g + "/sample_id"));
    QSWEEP_ASSIGN_OR_RETURN(r.label, f.Read<int32_t>(g + "/label"));
    QSWEEP_ASSIGN_OR_RETURN(r.n_choices, f.Read<int32_t>(g + "/n_choices"));
    QSWEEP_ASSIGN_OR_RETURN(r.choice_logprob, f.Read<double>(g + "/choice_logprob", 2, &dims));
    r.samples = dims[0];
    r.max_choices = dims[1];
    QSWEEP_ASSIGN_OR_RETURN(r.choice_tokens, f.Read<int32_t>(g + "/choice_tokens", 2));
    QSWEEP_ASSIGN_OR_RETURN(r.choice_bytes, f.Read<int64_t>(g + "/choice_bytes", 2));
    QSWEEP_ASSIGN_OR_RETURN(r.choice_greedy, f.Read<uint8_t>(g + "/choice_greedy", 2));
    const size_t n = static_cast<size_t>(r.samples), nc = n * r.max_choices;
    if (r.sample_id.size() != n || r.label.size() != n || r.n_choices.size() != n ||
        r.choice_tokens.size() != nc || r.choice_bytes.size() != nc || r.choice_greedy.size() != nc)
      return absl::DataLossError(absl::StrFormat("%s: %s: datasets of different lengths", path, g));
    d.tasks.emplace_back(name, std::move(r));
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> corpora, f.Children("/ppl"));
  for (const std::string& name : corpora) {
    const std::string g = "/ppl/" + name;
    TokenRows r;
    std::vector<int64_t> dims;
    QSWEEP_ASSIGN_OR_RETURN(r.token_id, f.Read<int32_t>(g + "/token_id"));
    QSWEEP_ASSIGN_OR_RETURN(r.nll, f.Read<float>(g + "/nll"));
    QSWEEP_ASSIGN_OR_RETURN(r.logsumexp, f.Read<float>(g + "/logsumexp"));
    QSWEEP_ASSIGN_OR_RETURN(r.is_argmax, f.Read<uint8_t>(g + "/is_argmax"));
    QSWEEP_ASSIGN_OR_RETURN(r.topk_id, f.Read<int32_t>(g + "/topk_id", 2, &dims));
    r.tokens = dims[0];
    r.topk = static_cast<int>(dims[1]);
    QSWEEP_ASSIGN_OR_RETURN(r.topk_logprob, f.Read<float>(g + "/topk_logprob", 2));
    if (f.Exists(g + "/logprob")) {
      QSWEEP_ASSIGN_OR_RETURN(r.logprob_f16, f.ReadF16(g + "/logprob", &dims));
      r.vocab = dims.size() == 2 ? dims[1] : 0;
    }
    const size_t n = static_cast<size_t>(r.tokens);
    if (r.token_id.size() != n || r.nll.size() != n || r.logsumexp.size() != n ||
        r.is_argmax.size() != n || r.topk_logprob.size() != n * r.topk ||
        r.logprob_f16.size() != n * r.vocab)
      return absl::DataLossError(absl::StrFormat("%s: %s: datasets of different lengths", path, g));
    d.corpora.emplace_back(name, std::move(r));
  }
  return d;
}

std::string DescribeRunFile(const RunData& run, const std::string& path) {
  const RunHeader& h = run.header;
  std::string s = absl::StrFormat(
      "run file:      %s (schema version %d, complete)\nmodel:         %s (id %s)\nscheme:        %s\n"
      "requests:      %s\nworld:         %s\ncreated:       %s\nscoring:       top-%d%s\n",
      path, h.schema_version, h.model, h.model_id, h.scheme, h.requests_id, h.world, h.created, h.topk,
      h.full_logprobs ? ", full log-prob rows (float16)" : "");
  for (const auto& [name, r] : run.tasks)
    s += absl::StrFormat("task %-12s %d samples, up to %d choices\n", name, r.samples, r.max_choices);
  for (const auto& [name, r] : run.corpora)
    s += absl::StrFormat("corpus %-10s %d scored tokens\n", name, r.tokens);
  return s;
}

}  // namespace qsweep
