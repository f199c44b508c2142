#include "sweep/sweep_run.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/prepare.h"
#include "eval/tasks/import_task.h"
#include "eval/tasks/task.h"
#include "io/request_file.h"
#include "io/run_file.h"
#include "model/checkpoint.h"
#include "model/scheme_summary.h"
#include "parallel/communicator.h"
#include "parallel/tp_scorer.h"
#include "parallel/work_queue.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {
namespace {

// The run file's single writer: appends each unit to the journal.
class JournalSink : public ResultSink {
 public:
  explicit JournalSink(RunJournal* journal) : journal_(journal) {}
  absl::Status Put(const WorkUnit& unit, const UnitResult& result) override {
    return journal_->Append(unit, result);
  }

 private:
  RunJournal* journal_;
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
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(c.tokenizer));
  std::vector<tasks::McTask> mc_tasks;
  for (const TaskSource& t : c.tasks) {
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
  return WriteRequestFile(c.RequestsPath(), rs);
}

absl::Status RunSweep(const SweepConfig& c, const std::vector<std::string>& wanted, MPI_Comm world,
                      const BackendMaker& make_backend) {
  QSWEEP_ASSIGN_OR_RETURN(Topology topo, WorldTopology(world, c.tp));
  std::vector<std::string> schemes = wanted.empty() ? c.AllSchemes() : wanted;
  for (const std::string& s : schemes) {
    const auto all = c.AllSchemes();
    if (std::find(all.begin(), all.end(), s) == all.end())
      return absl::InvalidArgumentError(absl::StrFormat("%s: scheme '%s' is not in the sweep", c.path, s));
  }
  // Rank 0 prepares the requests once; everyone reads them.
  int prepared_ok = 1;
  if (topo.world_rank == 0 && !std::filesystem::exists(c.RequestsPath())) {
    absl::Status s = PrepareRequests(c);
    if (!s.ok()) {
      std::fprintf(stderr, "qsweep: %s\n", std::string(s.message()).c_str());
      prepared_ok = 0;
    }
  }
  MPI_Bcast(&prepared_ok, 1, MPI_INT, 0, world);
  if (!prepared_ok) return absl::InvalidArgumentError("preparing the requests failed (see above)");
  QSWEEP_ASSIGN_OR_RETURN(RequestSet requests, ReadRequestFile(c.RequestsPath()));
  QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, OpenCheckpoint(c.model));
  const std::vector<WorkUnit> units =
      PlanWorkUnits(requests, {.samples_per_unit = c.samples_per_unit, .windows_per_unit = c.windows_per_unit});

  MPI_Comm group_comm;
  MPI_Comm_split(world, topo.replica, topo.tp_rank, &group_comm);
  MpiCommunicator group(group_comm);
  for (const std::string& scheme_name : schemes) {
    const std::string scheme_text = c.SchemeText(scheme_name);
    QSWEEP_ASSIGN_OR_RETURN(const SchemeSpec spec, ResolveScheme(scheme_text));
    const SchemeSummary scheme = SummarizeScheme(spec, *ckpt, scheme_text == scheme_name ? "" : scheme_name);
    const std::string path = c.RunPath(scheme.name);
    int skip = 0;
    if (topo.world_rank == 0 && ReadRunFile(path).ok()) {
      std::fprintf(stderr, "qsweep: %s is complete; keeping it\n", path.c_str());
      skip = 1;
    }
    MPI_Bcast(&skip, 1, MPI_INT, 0, world);
    if (skip) continue;

    QSWEEP_ASSIGN_OR_RETURN(
        std::unique_ptr<Backend> backend,
        make_backend(c.backend, BackendContext{.tp = topo.tp,
                                               .tp_rank = topo.tp_rank,
                                               .local_rank = topo.local_rank,
                                               .group = group.comm(),
                                               .host_all_reduce = topo.tp > 1 ? std::function<void(float*, int64_t)>(
                                                                                    [&](float* d, int64_t n) {
                                                                                      group.AllReduceSum(d, n);
                                                                                    })
                                                                              : nullptr}));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> decoder,
                            Decoder::Load(*ckpt, backend.get(),
                                          {.scheme = spec, .tp_rank = topo.tp_rank, .tp_size = topo.tp,
                                           .tp_invariant = c.reduction == Reduction::kTpInvariant,
                                           .max_batch_tokens = c.batch_tokens,
                                           .agree_batch_tokens = [&](int64_t tokens) {
                                             MPI_Allreduce(MPI_IN_PLACE, &tokens, 1, MPI_INT64_T, MPI_MIN, world);
                                             return tokens;
                                           }}));
    if (topo.world_rank == 0)
      std::fprintf(stderr, "qsweep: %s on %s: %s\n", scheme.name.c_str(), backend->name().c_str(),
                   decoder->memory_plan().c_str());
    RunHeader header;
    header.qsweep_version = QSWEEP_VERSION;
    header.model = c.model;
    header.model_id = ckpt->content_id();
    header.scheme = scheme.name;
    header.scheme_json = scheme.json;
    header.requests_id = requests.ContentId();
    header.ranks = topo.world_size;
    header.replicas = topo.replicas;
    header.tp = topo.tp;
    header.backend = c.backend;
    header.reduction = c.reduction;
    header.world = absl::StrFormat("%d ranks: %d replicas x tp %d, %s backend%s", topo.world_size, topo.replicas,
                                   topo.tp, Name(c.backend), c.reduction == Reduction::kFast ? ", fast reduction" : "");
    header.config_yaml = c.yaml;
    header.topk = c.topk;
    header.vocab_size = ckpt->config().vocab_size;
    header.full_logprobs = c.full_logprobs;
    header.bits_per_weight = scheme.bits_per_weight;
    header.model_bytes = scheme.bytes;
    std::unique_ptr<RunJournal> journal;
    std::unique_ptr<JournalSink> sink;
    QueueJob job;
    job.requests = &requests;
    job.units = units;
    job.scoring = {.topk = c.topk, .full_logprobs = c.full_logprobs};
    job.label = scheme.name;
    int journal_ok = 1;
    if (topo.world_rank == 0) {
      auto j = RunJournal::OpenOrCreate(path, header, &units);
      if (!j.ok()) {
        std::fprintf(stderr, "qsweep: %s\n", std::string(j.status().message()).c_str());
        journal_ok = 0;
      } else {
        journal = std::move(*j);
        sink = std::make_unique<JournalSink>(journal.get());
        job.done = journal->done();
        job.sink = sink.get();
        if (!job.done.empty())
          std::fprintf(stderr, "qsweep: %s: resuming, %zu of %zu units already done\n", path.c_str(),
                       job.done.size(), units.size());
      }
    }
    MPI_Bcast(&journal_ok, 1, MPI_INT, 0, world);
    if (!journal_ok) return absl::FailedPreconditionError("cannot open the run's journal (see above)");
    LocalScorer local(decoder.get());
    TensorParallelScorer tp_scorer(decoder.get(), &group);
    LogitScorer* scorer = topo.tp > 1 ? static_cast<LogitScorer*>(&tp_scorer) : &local;
    QSWEEP_RETURN_IF_ERROR(RunWorkQueue(topo, world, job, scorer, topo.tp > 1 ? &tp_scorer : nullptr));
    if (topo.world_rank == 0) {
      QSWEEP_RETURN_IF_ERROR(journal->Finalize(requests, units));
      std::fprintf(stderr, "qsweep: wrote %s\n", path.c_str());
    }
    MPI_Barrier(world);
  }
  return absl::OkStatus();
}

}  // namespace qsweep
