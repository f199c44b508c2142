#include "sweep/slurm_submit.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  const int n = static_cast<int>(c.AllSchemes().size());
  std::vector<int> wanted = o.indices;
  if (wanted.empty())
    for (int i = 0; i < n; ++i) wanted.push_back(i);
  // The candidates' exact token statistics read the baseline's run: the
  // baseline (index 0) is then a job of its own that they wait for.
  const bool baseline_first = c.exact_token_stats && !c.corpora.empty() && wanted.size() > 1 &&
                              std::find(wanted.begin(), wanted.end(), 0) != wanted.end();
  const std::string logs = (std::filesystem::path(c.output) / "logs").string();
  auto array_job = [&](const std::vector<int>& indices, const std::string& dependency) {
    std::vector<std::string> list;
    for (int i : indices) list.push_back(std::to_string(i));
    std::vector<std::string> cmd = {"sbatch", "--parsable", "--array=" + absl::StrJoin(list, ",")};
    if (!dependency.empty()) cmd.push_back("--dependency=afterok:" + dependency);
    // A failed dependency ends the waiting job at once, rather than leaving
    // it pending forever (and one more each resubmission).
    if (!dependency.empty()) cmd.push_back("--kill-on-invalid-dep=yes");
    cmd.insert(cmd.end(), {"--job-name=qsweep-" + c.name, "--ntasks=" + std::to_string(ranks),
                           "--output=" + logs + "/%x-%A_%a.out"});
    cmd.insert(cmd.end(), c.slurm_args.begin(), c.slurm_args.end());
    cmd.insert(cmd.end(), {o.repo + "/slurm/sweep-array.sbatch", o.repo, o.qsweep, c.path, std::to_string(ranks)});
    return cmd;
  };
  std::vector<std::vector<std::string>> cmds;
  std::string after;
  if (baseline_first) {
    cmds.push_back(array_job({0}, ""));
    std::vector<int> rest(wanted.begin(), wanted.end());
    rest.erase(std::find(rest.begin(), rest.end(), 0));
    cmds.push_back(array_job(rest, "%BASELINE%"));
    after = "%BASELINE%:%ARRAY%";
  } else {
    // The whole array in one range where it is one (0-N), as sbatch shows it.
    std::vector<std::string> cmd = array_job(wanted, "");
    if (o.indices.empty()) cmd[2] = absl::StrFormat("--array=0-%d", n - 1);
    cmds.push_back(cmd);
    after = "%ARRAY%";
  }
  std::vector<std::string> aggregate = {"sbatch", "--parsable", "--dependency=afterok:" + after,
                                        "--kill-on-invalid-dep=yes", "--job-name=qsweep-" + c.name + "-metrics",
                                        "--output=" + logs + "/%x-%j.out"};
  aggregate.insert(aggregate.end(), c.slurm_args.begin(), c.slurm_args.end());
  aggregate.insert(aggregate.end(), {o.repo + "/slurm/aggregate.sbatch", o.qsweep, c.path});
  cmds.push_back(aggregate);
  return cmds;
}

std::string ShellQuoted(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789_-+=/.,:%@") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char ch : a) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    out += '\'';
  }
  return out;
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
  // Each job's id replaces its placeholder in the dependencies after it.
  std::vector<std::pair<std::string, std::string>> ids;  // placeholder, job id
  const std::vector<std::string> roles =
      cmds.size() == 3 ? std::vector<std::string>{"%BASELINE%", "%ARRAY%", ""} : std::vector<std::string>{"%ARRAY%", ""};
  std::string arrays, aggregate;
  for (size_t i = 0; i < cmds.size(); ++i) {
    for (std::string& a : cmds[i])
      for (const auto& [placeholder, id] : ids)
        if (size_t at = a.find(placeholder); at != std::string::npos) a.replace(at, placeholder.size(), id);
    QSWEEP_ASSIGN_OR_RETURN(std::string out, RunCommand(cmds[i]));
    const std::string id = strip(out);
    if (!roles[i].empty()) {
      ids.emplace_back(roles[i], id);
      arrays += (arrays.empty() ? "" : ",") + id;
    } else {
      aggregate = id;
    }
  }
  return std::make_pair(arrays, aggregate);
}

}  // namespace qsweep
