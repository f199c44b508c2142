// `qsweep run CONFIG [--scheme S ...]` and `qsweep prepare CONFIG`.
#include <thread>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <mpi.h>

#include "absl/strings/str_format.h"

#include "backend/cpu/cpu_backend.h"
#include "cli/commands.h"
#ifdef QSWEEP_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "core/status_macros.h"
#include "io/metrics_reader.h"
#include "report/decision.h"
#include "sweep/sweep_config.h"
#include "sweep/sweep_run.h"

namespace qsweep::cli {
namespace {

using SchemeRunner = std::function<absl::Status(const SweepConfig&, const std::vector<std::string>&)>;

struct RunArgs {
  std::string config, output, backend, reduction, quantize_on;
  std::vector<std::string> schemes;
  int tp = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const std::string& name, const BackendContext& context) {
  const std::optional<BackendKind> kind = Parse<BackendKind>(name);
  if (!kind)
    return absl::InvalidArgumentError(absl::StrFormat("unknown backend '%s' (%s)", name, NameList<BackendKind>()));
  return MakeBackend(*kind, context);
}

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendContext& context) {
  if (kind == BackendKind::kCpu) return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(context.host_all_reduce));
#ifdef QSWEEP_HAVE_CUDA
  // One GPU per rank: the one the launcher made visible (launcher/bind-gpu),
  // or the node-local rank's when plain mpirun shows every GPU.
  auto gpu = CudaBackend::Create(context.local_rank);
  if (!gpu.ok()) return gpu.status();
  if (context.tp > 1) {
    auto group = NcclGroup::Create(context.group);
    if (!group.ok()) return group.status();
    (*gpu)->SetGroup(std::move(*group));
  }
  return std::unique_ptr<Backend>(std::move(*gpu));
#else
  return absl::UnimplementedError("this qsweep was built without CUDA (QSWEEP_CUDA=OFF): use backend cpu");
#endif
}

namespace {

// Rank 0 chooses the mixed-precision entry from the sweep's metrics and
// writes it where AddRecommendedEntry finds it; returns its name.
absl::StatusOr<std::string> ChooseRecommended(const SweepConfig& c) {
  QSWEEP_RETURN_IF_ERROR(WriteSweepMetrics(c));
  QSWEEP_ASSIGN_OR_RETURN(const MetricsFileData m, ReadMetricsFile(c.MetricsPath()));
  const SweepConfig::Recommendation& r = *c.recommend;
  QSWEEP_ASSIGN_OR_RETURN(const MixedPrecisionPlan plan, PlanMixedPrecision(m, r.budget_bpw, r.format, r.keep));
  const std::string tmp = c.RecommendedPath() + ".tmp";
  std::error_code e;
  {
    std::ofstream out(tmp);
    out << plan.yaml << "\n";
    out.close();
    if (!out.good()) {
      std::filesystem::remove(tmp, e);
      return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", tmp));
    }
  }
  std::filesystem::rename(tmp, c.RecommendedPath(), e);
  if (e) {
    std::filesystem::remove(tmp, e);
    return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", c.RecommendedPath()));
  }
  std::fprintf(stderr, "qsweep: recommended %s (%s): %s\n", plan.name.c_str(), c.RecommendedPath().c_str(),
               plan.rule.c_str());
  return plan.name;
}

// After the sweep: choose the recommended entry (once: a rerun finds it
// beside the runs) and run it.
absl::Status RunRecommended(SweepConfig& c, MPI_Comm world, int rank, const SchemeRunner& run) {
  QSWEEP_ASSIGN_OR_RETURN(std::string name, AddRecommendedEntry(c));
  if (name.empty()) {
    absl::StatusOr<std::string> chosen = rank == 0 ? ChooseRecommended(c) : absl::StatusOr<std::string>("");
    int ok = chosen.ok();
    MPI_Bcast(&ok, 1, MPI_INT, 0, world);
    if (!ok)
      return rank == 0 ? chosen.status()
                       : absl::AbortedError("rank 0 could not choose the recommended configuration");
    QSWEEP_ASSIGN_OR_RETURN(name, AddRecommendedEntry(c));
  }
  return run(c, {name});
}

// The flags that override the config's values.
absl::Status Override(const RunArgs& a, SweepConfig& config) {
  if (!a.output.empty()) config.output = a.output;
  if (a.tp > 0) config.tp = a.tp;
  if (!a.backend.empty()) {
    const std::optional<BackendKind> kind = Parse<BackendKind>(a.backend);
    if (!kind)
      return absl::InvalidArgumentError(
          absl::StrFormat("--backend: unknown backend '%s' (%s)", a.backend, NameList<BackendKind>()));
    config.backend = *kind;
  }
  if (!a.reduction.empty()) config.reduction = *Parse<Reduction>(a.reduction);  // CLI11 checked it
  if (!a.quantize_on.empty()) config.host_quantize = a.quantize_on == "host";
  return absl::OkStatus();
}

// How a job ends: every rank reports whether it failed over a communicator
// of its own (nothing else uses it, so a rank stuck in the sweep's
// collectives cannot be confused by it). When every rank arrives, the error
// is printed once — rank 0's, which AgreeOnRoot gave every rank, else each
// failed rank's own — and all ranks finalize and exit 1, without MPI_Abort's
// banner. When some rank does not arrive within `wait` (it waits in a
// collective for the failed one), the failed rank ends the job with MPI_Abort.
int EndJob(const absl::Status& status, int rank, MPI_Comm end, std::chrono::seconds wait) {
  int mine[2] = {!status.ok(), rank == 0 && !status.ok()}, all[2] = {0, 0};
  MPI_Request request;
  MPI_Iallreduce(mine, all, 2, MPI_INT, MPI_SUM, end, &request);
  int done = 0;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!done && (status.ok() || std::chrono::steady_clock::now() < deadline)) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!done) {
    std::fprintf(stderr, "qsweep: rank %d: %s\n", rank, std::string(status.message()).c_str());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (!status.ok() && (rank == 0 || all[1] == 0))
    std::fprintf(stderr, "qsweep: %s%s\n", rank == 0 ? "" : absl::StrFormat("rank %d: ", rank).c_str(),
                 std::string(status.message()).c_str());
  MPI_Comm_free(&end);
  MPI_Finalize();
  return all[0] > 0 ? 1 : 0;
}

int RunMpi(const RunArgs& a) {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm end;
  MPI_Comm_dup(MPI_COMM_WORLD, &end);
  absl::Status status;
  if (provided < MPI_THREAD_MULTIPLE) {
    status = absl::FailedPreconditionError(
        "this MPI library does not provide MPI_THREAD_MULTIPLE, which the work queue needs");
  } else {
    auto config = LoadSweepConfig(a.config);
    status = config.status();
    if (status.ok()) status = Override(a, *config);
    if (status.ok()) status = AddRecommendedEntry(*config).status();  // chosen by an earlier run
    const SchemeRunner run = [](const SweepConfig& c, const std::vector<std::string>& schemes) {
      return RunSweep(c, schemes, MPI_COMM_WORLD,
                      [](BackendKind kind, const BackendContext& context) { return MakeBackend(kind, context); });
    };
    if (status.ok()) status = run(*config, a.schemes);
    // --scheme runs only what it names; the recommendation follows a whole sweep.
    if (status.ok() && config->recommend && a.schemes.empty())
      status = RunRecommended(*config, MPI_COMM_WORLD, rank, run);
  }
  return EndJob(status, rank, end, std::chrono::seconds(5));
}

}  // namespace

void AddRunCommand(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run", "Score the sweep's schemes (an MPI program: mpirun -n R qsweep run CONFIG)");
  run->add_option("config", args->config, "sweep config (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--scheme", args->schemes, "only these schemes (default: baseline and all schemes)");
  run->add_option("-o,--output", args->output, "output folder (overrides the config's)");
  run->add_option("--tp", args->tp, "tensor-parallel ranks per replica (overrides the config's)")
      ->check(CLI::Range(1, 4096));
  run->add_option("--backend", args->backend, "cpu or cuda (overrides the config's parallel.backend)");
  run->add_option("--reduction", args->reduction,
                  "tp_invariant or fast (overrides the config's parallel.reduction; fast results depend on tp)")
      ->check(CLI::IsMember({"tp_invariant", "fast"}));
  run->add_option("--quantize-on", args->quantize_on,
                  "device (default: round-to-nearest schemes of a bf16 model are quantized on the GPU, from one bf16 "
                  "copy kept across the sweep where it fits) or host (quantized on the CPU as read; the same bits)")
      ->check(CLI::IsMember({"host", "device"}));
  run->callback([args] { std::exit(RunMpi(*args)); });

  auto prep = std::make_shared<RunArgs>();
  CLI::App* prepare = app.add_subcommand("prepare", "Tokenize the sweep's tasks and corpora into its request file");
  prepare->add_option("config", prep->config, "sweep config (YAML)")->required()->check(CLI::ExistingFile);
  prepare->add_option("-o,--output", prep->output, "output folder (overrides the config's)");
  prepare->callback([prep] {
    auto config = LoadSweepConfig(prep->config);
    ExitOnError(config.status());
    if (!prep->output.empty()) config->output = prep->output;
    ExitOnError(PrepareRequests(*config));
    std::fprintf(stderr, "qsweep: wrote %s\n", config->RequestsPath().c_str());
  });
}

}  // namespace qsweep::cli
