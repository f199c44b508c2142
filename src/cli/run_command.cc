// `qsweep run CONFIG [--scheme S ...]` and `qsweep prepare CONFIG`.
#include <memory>
#include <string>
#include <vector>

#include <mpi.h>

#include "backend/cpu/cpu_backend.h"
#include "cli/commands.h"
#ifdef QSWEEP_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "dist/sweep_config.h"
#include "dist/sweep_run.h"

namespace qsweep::cli {
namespace {

struct RunArgs {
  std::string config, output, backend;
  std::vector<std::string> schemes;
  int tp = 0;
};

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const std::string& name,
                                                     std::function<void(float*, int64_t)> all_reduce) {
  if (name == "cpu") return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(std::move(all_reduce)));
#ifdef QSWEEP_HAVE_CUDA
  if (all_reduce)
    return absl::UnimplementedError("tensor parallelism on the GPU needs the NCCL all-reduce, not written yet (use tp 1)");
  // Each rank uses the GPU the launcher made visible to it (launcher/bind-gpu).
  auto gpu = CudaBackend::Create();
  if (!gpu.ok()) return gpu.status();
  return std::unique_ptr<Backend>(std::move(*gpu));
#else
  return absl::UnimplementedError("this qsweep was built without CUDA (QSWEEP_CUDA=OFF): use backend cpu");
#endif
}

int RunMpi(const RunArgs& a) {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  absl::Status status;
  if (provided < MPI_THREAD_MULTIPLE) {
    status = absl::FailedPreconditionError(
        "this MPI library does not provide MPI_THREAD_MULTIPLE, which the work queue needs");
  } else {
    auto config = LoadSweepConfig(a.config);
    if (config.ok() && !a.output.empty()) config->output = a.output;
    if (config.ok() && a.tp > 0) config->tp = a.tp;
    if (config.ok() && !a.backend.empty()) config->backend = a.backend;
    status = config.ok() ? RunSweep(*config, a.schemes, MPI_COMM_WORLD, MakeBackend) : config.status();
  }
  if (!status.ok()) {
    std::fprintf(stderr, "qsweep: rank %d: %s\n", rank, std::string(status.message()).c_str());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run", "Score the sweep's schemes (an MPI program: mpirun -n R qsweep run CONFIG)");
  run->add_option("config", args->config, "sweep config (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--scheme", args->schemes, "only these schemes (default: baseline and all schemes)");
  run->add_option("-o,--output", args->output, "output folder (overrides the config's)");
  run->add_option("--tp", args->tp, "tensor-parallel ranks per replica (overrides the config's)");
  run->add_option("--backend", args->backend, "cpu or cuda (overrides the config's parallel.backend)");
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
