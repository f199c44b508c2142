#include "io/run_file.h"

#include <optional>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/byte_buffer.h"
#include "core/output_file.h"
#include "core/status_macros.h"
#include "eval/unit_codec.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

// The last byte is the journal format version: records and header layout
// change together with it, and a journal of another version is refused, not
// misread (a resume needs the qsweep that started the run).
constexpr char kMagic[8] = {'Q', 'S', 'W', 'J', 'R', 'N', 'L', '3'};
constexpr size_t kMagicPrefix = 7;

uint64_t Checksum(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// A header's fields in list order: strings length-prefixed, the rest as bytes.
std::vector<uint8_t> EncodeHeader(const RunHeader& h) {
  ByteWriter w;
  ForEachField(
      [&](const HeaderField&, const auto& v) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, std::string>)
          w.PutString(v);
        else
          w.Put(v);
      },
      h);
  return std::move(w.bytes());
}

// nullopt where the record does not decode (its checksum held: a file
// damaged or made by hand).
std::optional<RunHeader> DecodeHeader(const std::vector<uint8_t>& bytes) {
  ByteReader r = ByteReader::Untrusted(bytes);
  RunHeader h;
  ForEachField(
      [&](const HeaderField&, auto& v) {
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>)
          v = r.GetString();
        else
          v = r.Get<T>();
      },
      h);
  if (!r.ok() || !r.done()) return std::nullopt;
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

// Where a scan stopped and why: at the file's end, at a record the file
// ends inside (a torn write: a crash mid-record), or at bytes that are no
// record (damage: a bad magic, length or checksum with data after it).
struct ScanEnd {
  int64_t good_end = 0;  // the offset where the intact records stop
  int64_t size = 0;      // the file's size
  bool damaged = false;
};

// Visits the records that are whole and intact, one at a time (a journal can
// be much larger than memory); `good_end` is the offset where they stop. A
// torn or corrupt record ends the scan: nothing after it can be trusted.
template <typename Visit>
JournalState ScanJournal(const std::string& path, ScanEnd* end, Visit visit) {
  *end = ScanEnd{};
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return JournalState::kAbsent;
  end->size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  char magic[sizeof(kMagic)];
  if (!in.read(magic, sizeof magic)) return JournalState::kAbsent;  // empty or torn before the magic
  if (std::memcmp(magic, kMagic, kMagicPrefix) != 0) {
    end->damaged = true;
    return JournalState::kAbsent;
  }
  if (magic[kMagicPrefix] != kMagic[kMagicPrefix]) return JournalState::kOtherVersion;
  end->good_end = sizeof(kMagic);
  std::vector<uint8_t> payload;
  for (;;) {
    uint64_t head[2];
    if (!in.read(reinterpret_cast<char*>(head), sizeof head)) break;
    // The length is checked against what the file holds before anything is
    // allocated: a damaged one must not ask for a terabyte.
    const uint64_t len = head[0], left = static_cast<uint64_t>(end->size - end->good_end) - sizeof head;
    if (len > left) break;  // torn: the file ends inside this record
    payload.resize(len);
    if (!in.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(len))) break;
    if (Checksum(payload.data(), len) != head[1]) {
      end->damaged = true;
      break;
    }
    end->good_end += static_cast<int64_t>(sizeof head + len);
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

// A header value as a message shows it.
std::string Show(const std::string& v) { return v; }
std::string Show(bool v) { return v ? "true" : "false"; }
std::string Show(int64_t v) { return absl::StrCat(v); }
std::string Show(double v) { return absl::StrCat(v); }
std::string Show(NamedEnum auto v) { return std::string(Name(v)); }

}  // namespace

std::string RunMismatch(const RunHeader& a, const RunHeader& b) {
  // A fast reduction rounds by tp (DecoderOptions::tp_invariant): its units
  // mix only with units of the same tp, backend and reduction; the replicas
  // do not matter.
  const bool fast = a.reduction == Reduction::kFast || b.reduction == Reduction::kFast;
  std::string why;
  ForEachField(
      [&](const HeaderField& field, const auto& x, const auto& y) {
        const bool must = field.on_resume == OnResume::kMustMatch ||
                          (fast && field.on_resume == OnResume::kMustMatchIfFast);
        if (!why.empty() || !must || x == y) return;
        why = absl::StrFormat("%s %s, not %s", field.name, Show(x), Show(y));
        if (*field.means) why += absl::StrFormat(" (%s)", field.means);
      },
      a, b);
  return why;
}

namespace {
// An exclusive flock on `lock_path`, checked to still be the file at that
// path afterwards: a writer that just finished unlinks its lock, and a lock
// taken on the unlinked file would exclude nobody.
absl::Status LockRun(const std::string& lock_path, const std::string& run_path, int* fd) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    *fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
    if (*fd < 0) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot create the run's lock file", lock_path));
    if (::flock(*fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(*fd);
      *fd = -1;
      return absl::UnavailableError(absl::StrFormat(
          "%s: another qsweep is writing this run now (it holds %s); wait for it, or stop it first", run_path,
          lock_path));
    }
    struct stat held, named;
    if (::fstat(*fd, &held) == 0 && ::stat(lock_path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      return absl::OkStatus();
    ::close(*fd);
    *fd = -1;
  }
  return absl::UnavailableError(absl::StrFormat("%s: its lock file keeps changing; is another qsweep starting it?", run_path));
}
}  // namespace

absl::StatusOr<std::unique_ptr<RunJournal>> RunJournal::OpenOrCreate(const std::string& run_path,
                                                                      const RunHeader& wanted,
                                                                      const std::vector<WorkUnit>* plan) {
  std::unique_ptr<RunJournal> j(new RunJournal());
  j->run_path_ = run_path;
  j->journal_path_ = run_path + ".journal";
  std::filesystem::create_directories(std::filesystem::path(run_path).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(run_path).parent_path());
  // One writer per run: a second qsweep on the same output (a resubmitted
  // job while the first still runs) would interleave records. The lock is
  // the kernel's, so a crashed writer leaves none behind.
  j->lock_path_ = run_path + ".lock";
  QSWEEP_RETURN_IF_ERROR(LockRun(j->lock_path_, run_path, &j->lock_fd_));
  ScanEnd end;
  bool have_header = false;
  std::string mismatch;
  const JournalState state = ScanJournal(j->journal_path_, &end, [&](const std::vector<uint8_t>& rec) {
    ByteReader r = ByteReader::Untrusted(rec);
    if (!have_header) {
      const std::optional<RunHeader> h = DecodeHeader(rec);
      if (!h) {
        mismatch = "its header record does not decode (a damaged or foreign file)";
        return false;
      }
      j->header_ = *h;
      have_header = true;
      mismatch = RunMismatch(j->header_, wanted);
      if (!mismatch.empty()) mismatch = absl::StrFormat("an unfinished run of another configuration is here (%s)", mismatch);
      return mismatch.empty();
    }
    const UnitPlacement p = GetPlacement(r);
    if (!r.ok()) {
      mismatch = "a record does not decode (a damaged or foreign file)";
      return false;
    }
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
  if (!have_header && end.damaged)
    // Finished units may follow a damaged header: never start over on them.
    return absl::DataLossError(absl::StrFormat(
        "%s: the journal is damaged before its header (%d bytes); move it away to start the run over",
        j->journal_path_, end.size));
  if (have_header) {
    // Drop a torn or damaged tail so that new records follow the last intact
    // one, and say what was dropped: the units in it are scored again.
    if (end.good_end < end.size)
      std::fprintf(stderr, "qsweep: %s: %s after the last intact record: %d bytes dropped, their units rerun\n",
                   j->journal_path_.c_str(), end.damaged ? "damaged bytes" : "a torn record",
                   static_cast<int>(end.size - end.good_end));
    std::error_code ec;
    std::filesystem::resize_file(j->journal_path_, end.good_end, ec);
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
  if (lock_fd_ >= 0) {
    std::remove(lock_path_.c_str());  // while still held: no other writer has it
    ::close(lock_fd_);
  }
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

// A header field as a root attribute: strings as strings, integers and bools
// as int64, reals as float64.
absl::Status SetHeaderAttr(h5::File& f, const char* name, const std::string& v) { return f.SetAttr("/", name, v); }
absl::Status SetHeaderAttr(h5::File& f, const char* name, int64_t v) { return f.SetAttr("/", name, v); }
absl::Status SetHeaderAttr(h5::File& f, const char* name, bool v) { return f.SetAttr("/", name, int64_t{v}); }
absl::Status SetHeaderAttr(h5::File& f, const char* name, double v) { return f.SetDoubleAttr("/", name, v); }
absl::Status SetHeaderAttr(h5::File& f, const char* name, NamedEnum auto v) {
  return f.SetAttr("/", name, std::string(Name(v)));
}

absl::Status GetHeaderAttr(const h5::File& f, const char* name, std::string* v) {
  QSWEEP_ASSIGN_OR_RETURN(*v, f.GetStringAttr("/", name));
  return absl::OkStatus();
}
absl::Status GetHeaderAttr(const h5::File& f, const char* name, int64_t* v) {
  QSWEEP_ASSIGN_OR_RETURN(*v, f.GetIntAttr("/", name));
  return absl::OkStatus();
}
absl::Status GetHeaderAttr(const h5::File& f, const char* name, bool* v) {
  QSWEEP_ASSIGN_OR_RETURN(const int64_t i, f.GetIntAttr("/", name));
  *v = i != 0;
  return absl::OkStatus();
}
absl::Status GetHeaderAttr(const h5::File& f, const char* name, double* v) {
  QSWEEP_ASSIGN_OR_RETURN(*v, f.GetDoubleAttr("/", name));
  return absl::OkStatus();
}
template <NamedEnum E>
absl::Status GetHeaderAttr(const h5::File& f, const char* name, E* v) {
  QSWEEP_ASSIGN_OR_RETURN(const std::string text, f.GetStringAttr("/", name));
  const std::optional<E> value = Parse<E>(text);
  if (!value)
    return absl::DataLossError(
        absl::StrFormat("%s: attribute %s is '%s', not %s", f.path(), name, text, NameList<E>()));
  *v = *value;
  return absl::OkStatus();
}

// Run files written before the layout was stored typed (schema 1 files
// without a `backend` attribute) give it only in `world`, which qsweep then
// wrote as "R ranks: P replicas x tp T, B backend" and appended ", fast
// reduction" under a fast reduction. Only those files' `world` is read.
absl::Status LayoutFromWorld(const std::string& path, RunHeader& h) {
  int ranks = 0, replicas = 0, tp = 0, end = 0;
  char backend[16] = {0};
  const bool parsed = std::sscanf(h.world.c_str(), "%d ranks: %d replicas x tp %d, %15s backend%n", &ranks,
                                  &replicas, &tp, backend, &end) == 4 && end > 0;
  const std::string rest = parsed ? h.world.substr(end) : "";
  const std::optional<BackendKind> kind = Parse<BackendKind>(backend);
  if (!parsed || !kind || (rest != "" && rest != ", fast reduction"))
    return absl::DataLossError(absl::StrFormat(
        "%s: no layout attributes (backend, tp, ...), and its world '%s' does not give the layout", path, h.world));
  h.ranks = ranks;
  h.replicas = replicas;
  h.tp = tp;
  h.backend = *kind;
  h.reduction = rest.empty() ? Reduction::kTpInvariant : Reduction::kFast;
  return absl::OkStatus();
}

absl::Status WriteHeaderAttrs(h5::File& f, const RunHeader& h) {
  absl::Status status;
  ForEachField(
      [&](const HeaderField& field, const auto& v) {
        if (status.ok()) status = SetHeaderAttr(f, field.name, v);
      },
      h);
  return status;
}

absl::Status ReadHeaderAttrs(const h5::File& f, RunHeader& h) {
  const bool typed_layout = f.HasAttr("/", "backend");
  absl::Status status;
  ForEachField(
      [&](const HeaderField& field, auto& v) {
        if (!status.ok() || (field.optional && !f.HasAttr("/", field.name))) return;
        if (typed_layout || !field.layout) status = GetHeaderAttr(f, field.name, &v);
      },
      h);
  QSWEEP_RETURN_IF_ERROR(status);
  return typed_layout ? absl::OkStatus() : LayoutFromWorld(f.path(), h);
}

// Every array of a run at its full size: padding until units are placed.
struct RunRows {
  std::vector<ChoiceRows> tasks;
  std::vector<TokenRows> corpora;
  std::vector<GenRows> gens;
};

template <typename Rows>
void Pad(Rows& rows) {
  ForEachColumn([](const auto& c) { c.values.assign(c.rows * c.width(), c.pad); }, rows);
}

RunRows AllocateRows(const RequestSet& requests, const RunHeader& header) {
  RunRows all;
  for (const McTaskRequests& task : requests.tasks) {
    ChoiceRows& r = all.tasks.emplace_back();
    r.samples = static_cast<int64_t>(task.samples.size());
    r.max_choices = task.max_choices();
    Pad(r);
  }
  for (const PplCorpusRequests& corpus : requests.corpora) {
    TokenRows& r = all.corpora.emplace_back();
    r.tokens = corpus.scored_tokens();
    r.topk = header.topk;
    r.vocab = header.full_logprobs ? header.vocab_size : 0;
    (header.hidden_dtype == "bf16" ? r.hidden_bf16 : r.hidden) = header.hidden_dtype.empty() ? 0 : header.hidden_size;
    r.paired = header.baseline_run_id.empty() ? 0 : 1;
    Pad(r);
  }
  for (const GenTaskRequests& task : requests.gen_tasks) {
    GenRows& r = all.gens.emplace_back();
    r.samples = static_cast<int64_t>(task.samples.size());
    r.max_tokens = task.max_tokens();
    r.max_text = r.max_tokens * kTextBytesPerToken;
    Pad(r);
  }
  return all;
}

// Whether a unit's rows can go at `first_row` of the run's: the same widths,
// whole arrays, inside the run's rows.
template <typename Rows>
bool Fits(const Rows& dst, const Rows& src, int64_t first_row) {
  bool fits = true;
  ForEachColumn(
      [&](const auto& d, const auto& s) {
        fits = fits && s.rows >= 0 && first_row >= 0 && first_row + s.rows <= d.rows && s.width() == d.width() &&
               s.whole();
      },
      dst, src);
  return fits;
}

template <typename Rows>
void Place(Rows& dst, const Rows& src, int64_t first_row) {
  ForEachColumn(
      [&](const auto& d, const auto& s) {
        std::copy(s.values.begin(), s.values.end(), d.values.begin() + first_row * d.width());
      },
      dst, src);
}

// Places a unit's rows where the plan puts them; why not (empty when placed).
std::string PlaceUnit(const WorkUnit& u, const UnitResult& result, RunRows& all) {
  if (const auto* c = std::get_if<ChoiceRows>(&result)) {
    if (u.kind != WorkUnit::Kind::kChoices) return "choice rows for a perplexity unit";
    ChoiceRows& dst = all.tasks[u.source];
    if (c->samples != u.end - u.begin || !Fits(dst, *c, u.first_row)) return "rows do not fit the task";
    Place(dst, *c, u.first_row);
    return "";
  }
  if (const auto* g = std::get_if<GenRows>(&result)) {
    if (u.kind != WorkUnit::Kind::kGenerate) return "generation rows for another kind of unit";
    GenRows& dst = all.gens[u.source];
    if (g->samples != u.end - u.begin || !Fits(dst, *g, u.first_row)) return "rows do not fit the generative task";
    Place(dst, *g, u.first_row);
    return "";
  }
  if (u.kind != WorkUnit::Kind::kTokens) return "token rows for a multiple-choice unit";
  const auto& t = std::get<TokenRows>(result);
  TokenRows& dst = all.corpora[u.source];
  if (!Fits(dst, t, u.first_row)) return "rows do not fit the corpus";
  Place(dst, t, u.first_row);
  return "";
}

// Rows are placed by the plan's row ranges, never by arrival order; each
// record must sit exactly where the plan puts its unit.
absl::Status PlaceRecords(const std::string& journal_path, const std::vector<WorkUnit>& units, RunRows& all) {
  ScanEnd end;
  bool header = true;
  absl::Status status;
  ScanJournal(journal_path, &end, [&](const std::vector<uint8_t>& rec) {
    if (header) {
      header = false;
      return true;
    }
    ByteReader rd = ByteReader::Untrusted(rec);
    const UnitPlacement p = GetPlacement(rd);
    std::string why = rd.ok() ? PlanMismatch(p, units) : "the record does not decode";
    if (why.empty()) {
      bool decoded = false;
      const UnitResult result = DecodeUnitResult(rd.GetVector<uint8_t>(), &decoded);
      why = rd.ok() && decoded ? PlaceUnit(units[p.id], result, all) : "its results do not decode";
    }
    if (!why.empty()) status = absl::DataLossError(absl::StrFormat("%s: unit %d: %s", journal_path, p.id, why));
    return status.ok();
  });
  return status;
}

template <typename Rows>
absl::Status WriteRows(h5::File& f, const std::string& group, const Rows& rows) {
  absl::Status status = f.CreateGroup(group);
  ForEachColumn(
      [&](const auto& c) {
        if (!status.ok() || ((c.storage & kOptional) && c.width() == 0)) return;
        using T = typename std::remove_cvref_t<decltype(c)>::Value;
        const std::vector<int64_t> dims = c.stored_2d() ? std::vector<int64_t>{c.rows, c.width()}
                                                        : std::vector<int64_t>{c.rows};
        if constexpr (std::is_same_v<T, float>) {
          if (c.storage & kBf16) {
            status = f.WriteFloatAsBf16(group + "/" + c.name, dims, c.values.data(), c.storage & kLarge);
            return;
          }
        }
        status = f.Write(group + "/" + c.name, h5::TypeOf<T>(), dims, c.values.data(), c.storage & kLarge);
      },
      rows);
  return status;
}

// Reads a record's arrays; every array must have the shape the others give.
// `with_hidden` false: the final hidden states (a baseline's, large) are
// left unread, as if absent.
template <typename Rows>
absl::Status ReadRows(const h5::File& f, const std::string& group, Rows& rows, bool with_hidden = true) {
  absl::Status status;
  std::vector<std::vector<int64_t>> dims;
  ForEachColumn(
      [&](const auto& c) {
        std::vector<int64_t>& d = dims.emplace_back();
        const std::string name = group + "/" + c.name;
        if (!status.ok()) return;
        const bool skipped = !with_hidden && std::string_view(c.name).starts_with("final_hidden");
        if ((c.storage & kOptional) && (skipped || !f.Exists(name))) {
          *c.width_field = 0;
          d = {-1};  // absent: no shape to agree with
          return;
        }
        using T = typename std::remove_cvref_t<decltype(c)>::Value;
        absl::StatusOr<std::vector<T>> v;
        if constexpr (std::is_same_v<T, float>) {
          v = (c.storage & kBf16) ? f.ReadBf16AsFloat(name, c.stored_2d() ? 2 : 1, &d)
                                  : f.Read<T>(name, c.stored_2d() ? 2 : 1, &d);
        } else {
          v = f.Read<T>(name, c.stored_2d() ? 2 : 1, &d);
        }
        if (!v.ok()) {
          status = v.status();
          return;
        }
        c.values = std::move(*v);
        c.rows = d[0];
        if (c.two_d()) *c.width_field = c.stored_2d() ? d[1] : 1;
      },
      rows);
  QSWEEP_RETURN_IF_ERROR(status);
  size_t i = 0;
  bool agree = true;
  ForEachColumn(
      [&](const auto& c) {
        const std::vector<int64_t>& d = dims[i++];
        if (d == std::vector<int64_t>{-1}) return;
        agree = agree && d[0] == c.rows && (!c.stored_2d() || d[1] == c.width()) && c.whole();
      },
      rows);
  if (!agree) return absl::DataLossError(absl::StrFormat("%s: %s: datasets of different lengths", f.path(), group));
  return absl::OkStatus();
}

// /performance: attributes only, read by name (absent in older files).
absl::Status WritePerformance(h5::File& f, const RunPerformance& p) {
  const std::string g = "/performance";
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "device", p.device));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "weight_bytes", p.weight_bytes));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "device_bytes_in_use", p.device_bytes_in_use));
  QSWEEP_RETURN_IF_ERROR(f.SetDoubleAttr(g, "score_seconds", p.score_seconds));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "samples", p.samples));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "windows", p.windows));
  return f.SetAttr(g, "tokens", p.tokens);
}

absl::StatusOr<RunPerformance> ReadPerformance(const h5::File& f, const std::string& path) {
  RunPerformance p;
  const std::string g = "/performance";
  if (!f.Exists(g)) return p;
  QSWEEP_ASSIGN_OR_RETURN(p.device, f.GetStringAttr(g, "device"));
  QSWEEP_ASSIGN_OR_RETURN(p.weight_bytes, f.GetIntAttr(g, "weight_bytes"));
  QSWEEP_ASSIGN_OR_RETURN(p.device_bytes_in_use, f.GetIntAttr(g, "device_bytes_in_use"));
  QSWEEP_ASSIGN_OR_RETURN(p.score_seconds, f.GetDoubleAttr(g, "score_seconds"));
  QSWEEP_ASSIGN_OR_RETURN(p.samples, f.GetIntAttr(g, "samples"));
  QSWEEP_ASSIGN_OR_RETURN(p.windows, f.GetIntAttr(g, "windows"));
  QSWEEP_ASSIGN_OR_RETURN(p.tokens, f.GetIntAttr(g, "tokens"));
  if (!(p.score_seconds > 0 && p.score_seconds < 1e9) || p.samples < 0 || p.windows < 0 || p.tokens < 0 ||
      p.weight_bytes < -1 || p.device_bytes_in_use < -1)
    return absl::DataLossError(absl::StrFormat("%s: /performance holds impossible values (%g s, %d samples, %d "
                                               "windows, %d tokens)", path, p.score_seconds, p.samples, p.windows,
                                               p.tokens));
  return p;
}

absl::Status WriteRunH5(const std::string& path, const RunHeader& header, const RequestSet& requests,
                        const RunRows& all, size_t units, const RunPerformance& perf) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Create(path));
  QSWEEP_RETURN_IF_ERROR(WriteHeaderAttrs(f, header));
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/tasks"));
  for (size_t t = 0; t < all.tasks.size(); ++t)
    QSWEEP_RETURN_IF_ERROR(WriteRows(f, "/tasks/" + requests.tasks[t].name, all.tasks[t]));
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/ppl"));
  for (size_t i = 0; i < all.corpora.size(); ++i) {
    const PplCorpusRequests& corpus = requests.corpora[i];
    const std::string g = "/ppl/" + corpus.name;
    QSWEEP_RETURN_IF_ERROR(WriteRows(f, g, all.corpora[i]));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "window", corpus.window));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "stride", corpus.stride));
  }
  if (!all.gens.empty()) {
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/generate"));
    for (size_t t = 0; t < all.gens.size(); ++t)
      QSWEEP_RETURN_IF_ERROR(WriteRows(f, "/generate/" + requests.gen_tasks[t].name, all.gens[t]));
  }
  QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/progress"));
  QSWEEP_RETURN_IF_ERROR(f.Write("/progress/unit_done", std::vector<uint8_t>(units, 1)));
  if (perf.measured()) QSWEEP_RETURN_IF_ERROR(WritePerformance(f, perf));
  QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "complete", int64_t{1}));
  return f.Close();
}

}  // namespace

absl::Status RunJournal::Finalize(const RequestSet& requests, const std::vector<WorkUnit>& units,
                                  const RunPerformance& performance) {
  for (const WorkUnit& u : units)
    if (!done_.count(u.id))
      return absl::FailedPreconditionError(absl::StrFormat("%s: unit %d is not done", journal_path_, u.id));
  RunRows all = AllocateRows(requests, header_);
  QSWEEP_RETURN_IF_ERROR(PlaceRecords(journal_path_, units, all));
  QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(run_path_));
  QSWEEP_RETURN_IF_ERROR(WriteRunH5(out.tmp(), header_, requests, all, units.size(), performance));
  QSWEEP_RETURN_IF_ERROR(out.Commit());
  // The journal is the only copy of the finished work until the run file
  // reads back: a file that does not is removed (nothing complete-looking
  // stays) and the journal kept, to finalize again.
  if (absl::StatusOr<RunData> back = ReadRunFile(run_path_, /*with_hidden=*/true); !back.ok()) {
    std::remove(run_path_.c_str());
    return absl::DataLossError(absl::StrFormat("%s did not read back after writing (%s); the journal %s is kept",
                                               run_path_, back.status().message(), journal_path_));
  }
  ::close(fd_);
  fd_ = -1;
  std::filesystem::remove(journal_path_);
  return absl::OkStatus();
}

namespace {

absl::StatusOr<RunHeader> ReadCompleteHeader(const h5::File& f) {
  const std::string& path = f.path();
  const absl::StatusOr<int64_t> complete =
      f.HasAttr("/", "complete") ? f.GetIntAttr("/", "complete") : absl::StatusOr<int64_t>(0);
  if (!complete.ok() || *complete != 1)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: not a complete run file (the run did not finish; rerun it to resume)", path));
  RunHeader h;
  QSWEEP_ASSIGN_OR_RETURN(h.schema_version, f.GetIntAttr("/", "schema_version"));
  if (h.schema_version != kRunSchemaVersion)
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: run file schema version %d; this qsweep reads version %d", path, h.schema_version, kRunSchemaVersion));
  QSWEEP_RETURN_IF_ERROR(ReadHeaderAttrs(f, h));
  return h;
}

}  // namespace

absl::StatusOr<RunHeader> ReadRunHeader(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  return ReadCompleteHeader(f);
}

std::string RunId(const RunHeader& h) {
  std::string key;
  for (const std::string& part : {h.model_id, h.scheme, h.requests_id, h.created, h.world, std::string(Name(h.backend))})
    key += std::to_string(part.size()) + ":" + part;
  return absl::StrFormat("%016x", Checksum(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
}

absl::StatusOr<RunData> ReadRunFile(const std::string& path, bool with_hidden) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  RunData d;
  QSWEEP_ASSIGN_OR_RETURN(d.header, ReadCompleteHeader(f));
  QSWEEP_ASSIGN_OR_RETURN(d.performance, ReadPerformance(f, path));

  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> tasks, f.Children("/tasks"));
  for (const std::string& name : tasks) {
    ChoiceRows& r = d.tasks.emplace_back(name, ChoiceRows{}).second;
    QSWEEP_RETURN_IF_ERROR(ReadRows(f, "/tasks/" + name, r));
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> corpora, f.Children("/ppl"));
  for (const std::string& name : corpora) {
    TokenRows& r = d.corpora.emplace_back(name, TokenRows{}).second;
    QSWEEP_RETURN_IF_ERROR(ReadRows(f, "/ppl/" + name, r, with_hidden));
  }
  if (f.Exists("/generate")) {
    QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> gens, f.Children("/generate"));
    for (const std::string& name : gens) {
      GenRows& r = d.gens.emplace_back(name, GenRows{}).second;
      QSWEEP_RETURN_IF_ERROR(ReadRows(f, "/generate/" + name, r));
      for (int64_t i = 0; i < r.samples; ++i)
        if (r.n_tokens[i] < 0 || r.n_tokens[i] > r.max_tokens || r.text_bytes[i] < 0 || r.stop_reason[i] > 3)
          return absl::DataLossError(absl::StrFormat("%s: /generate/%s: sample %d holds impossible values", path,
                                                     name, i));
    }
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
  for (const auto& [name, r] : run.gens) {
    int64_t correct = 0, tokens = 0;
    for (int64_t i = 0; i < r.samples; ++i) {
      correct += r.correct[i];
      tokens += r.n_tokens[i];
    }
    s += absl::StrFormat("generate %-8s %d samples, %d correct, %d tokens generated (greedy, up to %d each)\n", name,
                         r.samples, correct, tokens, r.max_tokens);
  }
  if (!h.hidden_dtype.empty())
    s += absl::StrFormat("token stats:   keeps each scored token's final hidden state (%s, %d values) for the "
                         "candidates' exact token statistics\n", h.hidden_dtype, h.hidden_size);
  if (!h.baseline_run_id.empty())
    s += absl::StrFormat("token stats:   exact (fp64, whole vocabulary) against baseline run %s\n", h.baseline_run_id);
  if (const RunPerformance& p = run.performance; p.measured()) {
    s += absl::StrFormat("scoring:       %.1f s on %s: %.0f tokens/s, %.2f samples/s (%d samples, %d windows)\n",
                         p.score_seconds, p.device, p.tokens_per_s(), p.samples_per_s(), p.samples, p.windows);
    auto gib = [](int64_t b) { return b < 0 ? std::string("not counted") : absl::StrFormat("%.3f GiB", b / 1073741824.0); };
    s += absl::StrFormat("memory:        weights %s, in use after scoring %s (one rank)\n", gib(p.weight_bytes),
                         gib(p.device_bytes_in_use));
  }
  return s;
}

}  // namespace qsweep
