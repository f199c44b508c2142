#include "sweep/sweep_run.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/calibration_data.h"
#include "eval/prepare.h"
#include "eval/tasks/gen_import.h"
#include "eval/tasks/import_task.h"
#include "eval/tasks/task.h"
#include "io/baseline_run.h"
#include "io/request_file.h"
#include "io/run_file.h"
#include "model/checkpoint.h"
#include "model/gguf_checkpoint.h"
#include "model/scheme_summary.h"
#include "mpi/agree_on_root.h"
#include "parallel/communicator.h"
#include "parallel/tp_scorer.h"
#include "parallel/work_queue.h"
#include "sweep/model_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {
namespace {

// The run file's single writer (rank 0): appends each unit to the journal.
class JournalSink : public ResultSink {
 public:
  explicit JournalSink(std::unique_ptr<RunJournal> journal) : journal_(std::move(journal)) {}
  absl::Status Put(const WorkUnit& unit, const UnitResult& result) override {
    return journal_->Append(unit, result);
  }
  RunJournal& journal() { return *journal_; }

 private:
  std::unique_ptr<RunJournal> journal_;
};

absl::StatusOr<Topology> WorldTopology(MPI_Comm world, int tp) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_size = 1, node_first = rank;
  MPI_Comm_size(node, &node_size);
  MPI_Allreduce(&rank, &node_first, 1, MPI_INT, MPI_MIN, node);
  MPI_Comm_free(&node);
  return MakeTopology(rank, size, tp, node_first, node_size);
}

}  // namespace

absl::Status PrepareRequests(const SweepConfig& c) {
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadModelTokenizer(c.tokenizer));
  // The model's vocabulary bounds every token id; its positions bound the
  // generative tasks' prompts.
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, OpenCheckpoint(c.model));
  const int64_t context = ckpt->config().max_position_embeddings;
  std::vector<tasks::McTask> mc_tasks;
  std::vector<GenTaskRequests> gen_tasks;
  for (const TaskSource& t : c.tasks) {
    if (t.generative()) {
      QSWEEP_ASSIGN_OR_RETURN(tasks::GenTask task, tasks::ImportGenTask(t.format, t.path, t.name));
      if (t.limit > 0 && static_cast<int64_t>(task.samples.size()) > t.limit) task.samples.resize(t.limit);
      absl::StatusOr<GenTaskRequests> r = TokenizeGenTask(*tok, task, c.add_bos, t.max_tokens, context);
      if (!r.ok()) return absl::Status(r.status().code(), absl::StrFormat("%s: %s", t.path, r.status().message()));
      gen_tasks.push_back(*std::move(r));
      continue;
    }
    tasks::ImportOptions import;
    import.name = t.name;
    // The config's fewshot defaults to 0, so mmlu is 0-shot unless asked; a
    // fewshot on another format is passed on for ImportTask to refuse.
    if (t.format == "mmlu" || t.fewshot != 0) import.fewshot = t.fewshot;
    QSWEEP_ASSIGN_OR_RETURN(tasks::McTask task, tasks::ImportTask(t.format, t.path, import));
    if (t.limit > 0 && static_cast<int64_t>(task.samples.size()) > t.limit) task.samples.resize(t.limit);
    mc_tasks.push_back(std::move(task));
  }
  std::vector<TextCorpus> corpora;
  PrepareOptions options{.add_bos = c.add_bos};
  for (const CorpusSource& s : c.corpora) {
    QSWEEP_ASSIGN_OR_RETURN(std::string text, tasks::ReadTextCorpus(s.path));
    corpora.push_back({s.name, std::move(text)});
  }
  // Every corpus of a config shares one window/stride in PrepareOptions; apply
  // per-corpus values after tokenizing.
  QSWEEP_ASSIGN_OR_RETURN(RequestSet rs, TokenizeRequests(*tok, mc_tasks, corpora, options));
  for (size_t i = 0; i < rs.corpora.size(); ++i) {
    rs.corpora[i].window = c.corpora[i].window;
    rs.corpora[i].stride = c.corpora[i].stride;
  }
  rs.tokenizer = c.tokenizer;
  rs.gen_tasks = std::move(gen_tasks);
  QSWEEP_RETURN_IF_ERROR(CheckTokenIds(rs, ckpt->config().vocab_size, ckpt->source()));
  return WriteRequestFile(c.RequestsPath(), rs);
}

namespace {

absl::Status CheckSchemes(const SweepConfig& c, const std::vector<std::string>& schemes) {
  const std::vector<std::string> all = c.AllSchemes();
  for (const std::string& s : schemes)
    if (std::find(all.begin(), all.end(), s) == all.end())
      return absl::InvalidArgumentError(absl::StrFormat("%s: scheme '%s' is not in the sweep", c.path, s));
  return absl::OkStatus();
}

// Rank 0 prepares the requests once; everyone reads them.
absl::StatusOr<RequestSet> SharedRequests(const SweepConfig& c, const Topology& topo, MPI_Comm world) {
  absl::Status prepared;
  if (topo.world_rank == 0 && !std::filesystem::exists(c.RequestsPath())) prepared = PrepareRequests(c);
  QSWEEP_RETURN_IF_ERROR(AgreeOnRoot(prepared, world));
  return ReadRequestFile(c.RequestsPath());
}

// A GGUF names its tokenizer's size and special tokens: they must be the
// sweep's tokenizer's, which tokenized the requests every run scores.
absl::Status CheckSameTokenizer(const Checkpoint& entry, const std::string& tokenizer_path) {
  const auto* gguf = dynamic_cast<const GgufCheckpoint*>(&entry);
  if (!gguf) return absl::OkStatus();
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadModelTokenizer(tokenizer_path));
  const GgufTokenizerInfo& t = gguf->tokenizer();
  if ((t.bos_id >= 0 && t.bos_id != tok->bos_id()) || (t.eos_id >= 0 && t.eos_id != tok->eos_id()))
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: its tokenizer's BOS/EOS ids are %d/%d, the sweep's tokenizer %s has %d/%d: another tokenizer",
        entry.source(), t.bos_id, t.eos_id, tokenizer_path, tok->bos_id(), tok->eos_id()));
  // Token by token: the vocabulary the requests were tokenized with.
  for (size_t id = 0; id < t.tokens.size(); ++id) {
    const std::optional<std::string> piece = tok->Piece(static_cast<int32_t>(id));
    if (!piece || *piece != t.tokens[id])
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: token %d is '%s' in its tokenizer and '%s' in the sweep's %s: another tokenizer", entry.source(), id,
          absl::CHexEscape(t.tokens[id]), piece ? absl::CHexEscape(*piece) : "(none)", tokenizer_path));
  }
  return absl::OkStatus();
}

// What every scheme of one sweep shares.
// The model's dense weights kept on the device across the sweep's schemes
// (model/held_weights.h), decided once, by the first scheme that loads: held
// where the backend has device memory to count and the bf16 copy takes at
// most half of what is free, so that the quantized schemes beside it still
// get most of the device.
struct HoldState {
  HeldWeights held;
  bool decided = false, on = false;
};

// Bytes of this rank's bf16 projections and head.
int64_t DenseBytesPerRank(const ModelConfig& c, int tp) {
  const int64_t layer = c.hidden_size * (2 * c.q_dim() + 2 * c.kv_dim() + 3 * c.intermediate_size);
  return 2 * (c.num_layers * layer + c.vocab_size * c.hidden_size) / tp;
}

struct Sweep {
  const SweepConfig& config;
  const Topology& topo;
  MPI_Comm world;
  MpiCommunicator& group;  // this rank's tensor-parallel group
  const RequestSet& requests;
  const Checkpoint& ckpt;
  const std::vector<WorkUnit>& units;
  const CalibrationSet* calibration;  // for the calibrated schemes; null when none is run
  HoldState& hold;
  int64_t schemes;  // how many this sweep runs
};

// Calibration data, drawn and tokenized once for the calibrated schemes to run.
absl::StatusOr<std::optional<CalibrationSet>> SharedCalibration(const SweepConfig& c, const Topology& topo,
                                                                 const std::vector<std::string>& schemes) {
  for (const std::string& s : schemes) {
    QSWEEP_ASSIGN_OR_RETURN(const SchemeSpec spec, ResolveScheme(c.SchemeText(s)));
    if (spec.method == Method::kRtn || !c.calibration) continue;
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadModelTokenizer(c.tokenizer));
    QSWEEP_ASSIGN_OR_RETURN(CalibrationSet set, LoadCalibrationSet(*c.calibration, *tok, c.add_bos));
    if (topo.world_rank == 0)
      std::fprintf(stderr, "qsweep: calibration data %s: %zu sequences of %lld tokens (seed %lld), id %s\n",
                   set.source.c_str(), set.sequences.size(), static_cast<long long>(c.calibration->length),
                   static_cast<long long>(c.calibration->seed), set.id.c_str());
    return set;
  }
  return std::nullopt;
}

BackendContext RankContext(const Sweep& s) {
  BackendContext context{.tp = s.topo.tp,
                         .tp_rank = s.topo.tp_rank,
                         .local_rank = s.topo.local_rank,
                         .group = s.group.comm(),
                         .host_all_reduce = nullptr};
  if (s.topo.tp > 1) {
    MpiCommunicator* group = &s.group;
    context.host_all_reduce = [group](float* data, int64_t n) { group->AllReduceSum(data, n); };
  }
  return context;
}

// What a run does for the exact token statistics.
enum class TokenStatsRole { kNone, kBaseline, kCandidate };

TokenStatsRole RoleOf(const Sweep& s, const std::string& scheme_name) {
  if (!s.config.exact_token_stats || s.requests.corpora.empty()) return TokenStatsRole::kNone;
  return scheme_name == s.config.baseline ? TokenStatsRole::kBaseline : TokenStatsRole::kCandidate;
}

// Sequences of a generative task decoded together.
constexpr int64_t kGenerationSequences = 32;

// The KV cache the generative tasks need: a group of sequences of the
// longest prompt and answer.
int64_t GenerationCacheRows(const RequestSet& requests) {
  int64_t longest = 0;
  for (const GenTaskRequests& t : requests.gen_tasks) longest = std::max(longest, t.max_prompt() + t.max_tokens());
  return longest * kGenerationSequences;
}

DecoderOptions DecoderOptionsFor(const Sweep& s, const std::string& scheme_name, const SchemeSpec& spec,
                                 std::optional<SchemeSpec> pair_baseline) {
  const MPI_Comm world = s.world;
  const bool leader = s.topo.world_rank == 0;
  return {.scheme = spec,
          .tp_rank = s.topo.tp_rank,
          .tp_size = s.topo.tp,
          .tp_invariant = s.config.ReductionOf(scheme_name) == Reduction::kTpInvariant,
          .max_batch_tokens = s.config.BatchTokensOf(scheme_name),
          .cache_rows = GenerationCacheRows(s.requests),
          .agree_batch_tokens = [world](int64_t tokens) {
            MPI_Allreduce(MPI_IN_PLACE, &tokens, 1, MPI_INT64_T, MPI_MIN, world);
            return tokens;
          },
          .calibration = spec.method != Method::kRtn ? s.calibration : nullptr,
          .progress = [leader](const std::string& line) {
            if (leader) std::fprintf(stderr, "qsweep: %s\n", line.c_str());
          },
          .pair_baseline = std::move(pair_baseline),
          .host_quantize = s.config.host_quantize,
          .load_progress = leader};
}

// The scheme JSON of a calibrated run: what the calibrated quantizer was
// given (the data's id) and chose (the damping, AWQ's exponents).
std::string CalibratedSchemeJson(const std::string& scheme_json, const Decoder& decoder, const Sweep& s,
                                 const SchemeSpec& spec) {
  if (decoder.calibration_report().tensors.empty() || !s.calibration) return scheme_json;
  return decoder.calibration_report().AddToSchemeJson(scheme_json, *s.calibration, spec.gptq.damp);
}

RunHeader MakeRunHeader(const Sweep& s, const std::string& scheme_name, const SchemeSummary& scheme) {
  const SweepConfig& c = s.config;
  RunHeader h;
  h.qsweep_version = QSWEEP_VERSION;
  h.model = c.model;
  h.model_id = s.ckpt.content_id();
  h.scheme = scheme.name;
  h.scheme_json = scheme.json;
  h.requests_id = s.requests.ContentId();
  h.config_yaml = c.yaml;
  h.topk = c.topk;
  h.vocab_size = s.ckpt.config().vocab_size;
  h.full_logprobs = c.full_logprobs;
  h.bits_per_weight = scheme.bits_per_weight;
  h.model_bytes = scheme.bytes;
  h.ranks = s.topo.world_size;
  h.replicas = s.topo.replicas;
  h.tp = s.topo.tp;
  h.backend = c.backend;
  h.reduction = c.ReductionOf(scheme_name);
  // Both backends score a sample independently of its batch: the CPU by
  // construction, the GPU by its kernels' rule (kernels/query_blocks.h).
  h.batch_invariant = true;
  h.world = absl::StrFormat("%d ranks: %d replicas x tp %d, %s backend%s", h.ranks, h.replicas, h.tp,
                            Name(h.backend), h.reduction == Reduction::kFast ? ", fast reduction" : "");
  return h;
}

// Rank 0 opens the run's journal (resuming an unfinished run) and holds it;
// every rank returns whether it could. Null on the other ranks.
absl::StatusOr<std::unique_ptr<JournalSink>> OpenJournal(const Sweep& s, const std::string& path,
                                                         const RunHeader& header) {
  std::unique_ptr<JournalSink> sink;
  absl::Status opened;
  if (s.topo.world_rank == 0) {
    auto journal = RunJournal::OpenOrCreate(path, header, &s.units);
    opened = journal.status();
    if (journal.ok()) sink = std::make_unique<JournalSink>(std::move(*journal));
  }
  QSWEEP_RETURN_IF_ERROR(AgreeOnRoot(opened, s.world));
  return sink;
}

// The scoring of this session: its work in its wall time, and the memory
// the backend counts.
RunPerformance Measured(const Backend& backend, const WorkSize& work, std::chrono::steady_clock::duration elapsed) {
  RunPerformance p;
  if (work.samples + work.windows == 0) return p;  // resumed with nothing left: nothing measured
  p.device = backend.DeviceName();
  p.weight_bytes = backend.WeightBytes();
  p.device_bytes_in_use = backend.DeviceBytesInUse();
  p.score_seconds = std::max(1e-6, std::chrono::duration<double>(elapsed).count());
  p.samples = work.samples;
  p.windows = work.windows;
  p.tokens = work.tokens;
  return p;
}

// One scheme's run file: kept when complete, else scored (or resumed).
absl::Status RunScheme(const Sweep& s, const std::string& scheme_name, const BackendMaker& make_backend) {
  const SweepConfig& c = s.config;
  const bool leader = s.topo.world_rank == 0;
  const std::string scheme_text = c.SchemeText(scheme_name);
  QSWEEP_ASSIGN_OR_RETURN(const SchemeSpec spec, ResolveScheme(scheme_text));
  // A quantized checkpoint made elsewhere is scored in place of the sweep's
  // model, which must be the model it was made from.
  std::unique_ptr<Checkpoint> entry_ckpt;
  if (auto it = c.entry_checkpoint.find(scheme_name); it != c.entry_checkpoint.end()) {
    QSWEEP_ASSIGN_OR_RETURN(entry_ckpt, OpenCheckpoint(it->second));
    QSWEEP_RETURN_IF_ERROR(CheckSameModel(*entry_ckpt, s.ckpt));
    QSWEEP_RETURN_IF_ERROR(CheckSameTokenizer(*entry_ckpt, c.tokenizer));
  }
  const Checkpoint& weights = entry_ckpt ? *entry_ckpt : s.ckpt;
  const SchemeSummary scheme = entry_ckpt ? SummarizeCheckpointEntry(spec, *entry_ckpt, scheme_name)
                                          : SummarizeScheme(spec, s.ckpt, scheme_text == scheme_name ? "" : scheme_name);
  const std::string path = c.RunPath(scheme.name);
  if (AgreeOnRoot(leader && ReadRunFile(path).ok(), s.world)) {
    if (leader) std::fprintf(stderr, "qsweep: %s is complete; keeping it\n", path.c_str());
    return absl::OkStatus();
  }
  // The switch to this scheme: a backend, the checkpoint read and quantized.
  const auto load_start = std::chrono::steady_clock::now();
  const TokenStatsRole role = RoleOf(s, scheme_name);
  std::optional<SchemeSpec> pair_baseline;
  if (role == TokenStatsRole::kCandidate) {
    QSWEEP_ASSIGN_OR_RETURN(pair_baseline, ResolveScheme(c.SchemeText(c.baseline)));
  }
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, make_backend(c.backend, RankContext(s)));
  DecoderOptions options = DecoderOptionsFor(s, scheme_name, spec, pair_baseline);
  if (!s.hold.decided) {
    const int64_t free = backend->FreeMemoryBytes(), dense = DenseBytesPerRank(s.ckpt.config(), s.topo.tp);
    s.hold.decided = true;
    s.hold.on = s.schemes > 1 && !c.host_quantize && free >= 0 && dense <= free / 2;
    if (leader && s.hold.on)
      std::fprintf(stderr, "qsweep: holding the model's %.2f GiB of bf16 weights per rank on the device across "
                   "schemes: round-to-nearest schemes are quantized there from them\n", dense / 1073741824.0);
  }
  if (s.hold.on) options.held = &s.hold.held;
  if (entry_ckpt) {
    options.pair_baseline_checkpoint = &s.ckpt;
    options.stored_formats = c.entry_stored_formats.contains(scheme_name);
  }
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> decoder, Decoder::Load(weights, backend.get(), options));
  if (leader)
    std::fprintf(stderr, "qsweep: %s on %s, loaded in %.1f s: %s\n", scheme.name.c_str(), backend->name().c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
                 decoder->memory_plan().c_str());
  if (leader && entry_ckpt)
    std::fprintf(stderr, "qsweep: %s: %s, %.3f bits per weight as stored; %lld of %lld projections run in their "
                 "stored formats, the other weights dequantized at load and held as %s (speed and memory are of "
                 "that)\n", scheme.name.c_str(), entry_ckpt->source().c_str(), scheme.bits_per_weight,
                 static_cast<long long>(decoder->stored_projections()), static_cast<long long>(decoder->projections()),
                 SchemeName(spec).c_str());
  RunHeader header = MakeRunHeader(s, scheme_name, scheme);
  header.scheme_json = CalibratedSchemeJson(header.scheme_json, *decoder, s, spec);
  if (entry_ckpt)
    header.scheme_json = WithStoredProjections(header.scheme_json, decoder->stored_projections(), decoder->projections());
  if (role == TokenStatsRole::kBaseline) {
    header.hidden_dtype = HiddenDTypeName(backend->compute_type());
    header.hidden_size = s.ckpt.config().hidden_size;
  }
  // Every rank that scores reads the baseline's rows of its own units.
  OpenedBaseline baseline;
  if (role == TokenStatsRole::kCandidate) {
    absl::StatusOr<OpenedBaseline> opened =
        OpenBaselineRun(c.RunPath(c.baseline), header, s.requests, backend->compute_type());
    QSWEEP_RETURN_IF_ERROR(AgreeOnRoot(opened.status(), s.world));
    QSWEEP_RETURN_IF_ERROR(opened.status());
    baseline = std::move(*opened);
    header.baseline_run_id = baseline.run_id;
  }
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<JournalSink> sink, OpenJournal(s, path, header));
  QueueJob job;
  job.requests = &s.requests;
  job.units = s.units;
  job.scoring = {.topk = c.topk,
                 .full_logprobs = c.full_logprobs,
                 .keep_hidden = role == TokenStatsRole::kBaseline,
                 .hidden_bf16 = backend->compute_type() == DType::kBF16,
                 .baseline = baseline.hidden.get(),
                 .generation = {}};
  std::unique_ptr<Tokenizer> tokenizer;
  if (!s.requests.gen_tasks.empty()) {
    QSWEEP_ASSIGN_OR_RETURN(tokenizer, LoadModelTokenizer(c.tokenizer));
    job.scoring.generation = {.tokenizer = tokenizer.get(),
                              .eos_ids = tokenizer->eos_id() >= 0 ? std::vector<int32_t>{tokenizer->eos_id()}
                                                                  : std::vector<int32_t>{},
                              .max_sequences = kGenerationSequences};
  }
  job.label = scheme.name;
  if (sink) {
    job.done = sink->journal().done();
    job.sink = sink.get();
    if (!job.done.empty())
      std::fprintf(stderr, "qsweep: %s: resuming, %zu of %zu units already done\n", path.c_str(), job.done.size(),
                   s.units.size());
  }
  LocalScorer local(decoder.get());
  TensorParallelScorer tp_scorer(decoder.get(), &s.group);
  LogitScorer* scorer = s.topo.tp > 1 ? static_cast<LogitScorer*>(&tp_scorer) : &local;
  backend->Synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  QSWEEP_RETURN_IF_ERROR(RunWorkQueue(s.topo, s.world, job, scorer, s.topo.tp > 1 ? &tp_scorer : nullptr));
  backend->Synchronize();
  if (sink) {
    const RunPerformance perf = Measured(*backend, CountWork(s.requests, s.units, job.done),
                                         std::chrono::steady_clock::now() - t0);
    QSWEEP_RETURN_IF_ERROR(sink->journal().Finalize(s.requests, s.units, perf));
    std::fprintf(stderr, "qsweep: wrote %s\n", path.c_str());
  }
  MPI_Barrier(s.world);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSweep(const SweepConfig& c, const std::vector<std::string>& wanted, MPI_Comm world,
                      const BackendMaker& make_backend) {
  QSWEEP_ASSIGN_OR_RETURN(Topology topo, WorldTopology(world, c.tp));
  std::vector<std::string> schemes = wanted.empty() ? c.AllSchemes() : wanted;
  // Candidates compare with the baseline's run: it goes first.
  std::stable_partition(schemes.begin(), schemes.end(), [&](const std::string& s) { return s == c.baseline; });
  QSWEEP_RETURN_IF_ERROR(CheckSchemes(c, schemes));
  QSWEEP_ASSIGN_OR_RETURN(RequestSet requests, SharedRequests(c, topo, world));
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, OpenCheckpoint(c.model));
  // Also for request files prepared before the check, or for another model.
  QSWEEP_RETURN_IF_ERROR(CheckTokenIds(requests, ckpt->config().vocab_size, ckpt->source()));
  const std::vector<WorkUnit> units =
      PlanWorkUnits(requests, {.samples_per_unit = c.samples_per_unit, .windows_per_unit = c.windows_per_unit});
  QSWEEP_ASSIGN_OR_RETURN(const std::optional<CalibrationSet> calibration, SharedCalibration(c, topo, schemes));
  MPI_Comm group_comm;
  MPI_Comm_split(world, topo.replica, topo.tp_rank, &group_comm);
  MpiCommunicator group(group_comm);
  HoldState hold{.held = HeldWeights(ckpt.get())};
  const Sweep sweep{c,     topo, world, group, requests, *ckpt, units, calibration ? &*calibration : nullptr,
                    hold, static_cast<int64_t>(schemes.size())};
  for (const std::string& scheme : schemes) QSWEEP_RETURN_IF_ERROR(RunScheme(sweep, scheme, make_backend));
  return absl::OkStatus();
}

}  // namespace qsweep
