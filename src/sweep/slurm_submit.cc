#include "sweep/slurm_submit.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "sweep/sweep_run.h"

extern char** environ;

namespace qsweep {

std::vector<PlanRow> PlanSweep(const SweepConfig& c) {
  std::vector<PlanRow> rows;
  const auto schemes = c.AllSchemes();
  for (size_t i = 0; i < schemes.size(); ++i) {
    PlanRow r{static_cast<int>(i), schemes[i], c.RunPath(schemes[i]), "missing"};
    if (std::filesystem::exists(r.run_file)) r.state = "complete";
    else if (std::filesystem::exists(r.run_file + ".journal")) r.state = "partial";
    rows.push_back(r);
  }
  return rows;
}

std::vector<std::vector<std::string>> SubmitCommands(const SweepConfig& c, const SubmitOptions& o) {
  const int ranks = o.ranks > 0 ? o.ranks : c.tp;
  std::vector<std::string> indices;
  for (int i : o.indices) indices.push_back(std::to_string(i));
  const std::string array = indices.empty() ? absl::StrFormat("0-%d", c.AllSchemes().size() - 1) : absl::StrJoin(indices, ",");
  const std::string logs = (std::filesystem::path(c.output) / "logs").string();
  std::vector<std::string> sweep = {"sbatch", "--parsable", "--array=" + array, "--job-name=qsweep-" + c.name,
                                    "--ntasks=" + std::to_string(ranks), "--output=" + logs + "/%x-%A_%a.out"};
  sweep.insert(sweep.end(), c.slurm_args.begin(), c.slurm_args.end());
  sweep.insert(sweep.end(), {o.repo + "/slurm/sweep-array.sbatch", o.repo, o.qsweep, c.path, std::to_string(ranks)});
  std::vector<std::string> aggregate = {"sbatch", "--parsable", "--dependency=afterok:%ARRAY%",
                                        "--job-name=qsweep-" + c.name + "-metrics",
                                        "--output=" + logs + "/%x-%j.out"};
  aggregate.insert(aggregate.end(), c.slurm_args.begin(), c.slurm_args.end());
  aggregate.insert(aggregate.end(), {o.repo + "/slurm/aggregate.sbatch", o.qsweep, c.path});
  return {sweep, aggregate};
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  auto slurp = [](int fd) {
    std::string s;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) s.append(buf, n);
    close(fd);
    return s;
  };
  const std::string stdout_text = slurp(out[0]), stderr_text = slurp(err[0]);
  if (rc != 0) return absl::NotFoundError(absl::StrFormat("cannot run %s (is it installed?)", argv[0]));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return absl::InternalError(absl::StrFormat("%s failed: %s", absl::StrJoin(argv, " "), stderr_text));
  return stdout_text;
}

absl::StatusOr<std::pair<std::string, std::string>> SubmitSweep(const SweepConfig& c, const SubmitOptions& o) {
  // Every task scores the same requests: write them once, before the array starts.
  if (!std::filesystem::exists(c.RequestsPath())) QSWEEP_RETURN_IF_ERROR(PrepareRequests(c));
  std::filesystem::create_directories(std::filesystem::path(c.output) / "logs");
  auto cmds = SubmitCommands(c, o);
  auto strip = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s.substr(0, s.find(';'));  // --parsable prints "id[;cluster]"
  };
  QSWEEP_ASSIGN_OR_RETURN(std::string array_out, RunCommand(cmds[0]));
  const std::string array_id = strip(array_out);
  for (std::string& a : cmds[1])
    if (a == "--dependency=afterok:%ARRAY%") a = "--dependency=afterok:" + array_id;
  QSWEEP_ASSIGN_OR_RETURN(std::string agg_out, RunCommand(cmds[1]));
  return std::make_pair(array_id, strip(agg_out));
}

}  // namespace qsweep
