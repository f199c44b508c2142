#include "sweep/slurm_submit.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(SlurmSubmit, ValuesTravelAsSeparateArguments) {
  // A hostile name must stay one argument, never reach a shell.
  auto c = ParseSweepConfig(R"(name: "x; rm -rf /"
model: m
schemes: [w8a16, w4a16-g128]
tasks: [{name: t, path: t.jsonl}]
output: /o
parallel: {tp: 2}
slurm: {args: ["--partition=gpu", "--time=01:00:00"]}
)", "/cfg/sweep.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto cmds = SubmitCommands(*c, {.repo = "/repo", .qsweep = "/bin/qsweep"});
  const std::vector<std::string> want = {"sbatch", "--parsable", "--array=0-2", "--job-name=qsweep-x; rm -rf /",
                                         "--ntasks=2", "--output=/o/logs/%x-%A_%a.out", "--partition=gpu",
                                         "--time=01:00:00", "/repo/slurm/sweep-array.sbatch", "/repo", "/bin/qsweep",
                                         "/cfg/sweep.yaml", "2"};
  EXPECT_EQ(cmds[0], want);
  EXPECT_EQ(cmds[1][2], "--dependency=afterok:%ARRAY%");
  const auto some = SubmitCommands(*c, {.repo = "/repo", .qsweep = "/bin/qsweep", .ranks = 4, .indices = {2}});
  EXPECT_EQ(some[0][2], "--array=2");
  EXPECT_EQ(some[0][4], "--ntasks=4");
}

TEST(SlurmSubmit, CandidatesWaitForTheBaselineWhenTheyReadIt) {
  // With a corpus, the candidates' exact token statistics read the baseline's run.
  auto c = ParseSweepConfig(R"(name: x
model: m
schemes: [w8a16, w4a16-g128]
tasks: [{name: t, path: t.jsonl}]
corpora: [{name: wiki, path: w.txt}]
output: /o
)", "/cfg/sweep.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto cmds = SubmitCommands(*c, {.repo = "/repo", .qsweep = "/bin/qsweep"});
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0][2], "--array=0");
  EXPECT_EQ(cmds[1][2], "--array=1,2");
  EXPECT_EQ(cmds[1][3], "--dependency=afterok:%BASELINE%");
  EXPECT_EQ(cmds[2][2], "--dependency=afterok:%BASELINE%:%ARRAY%");
  // Candidates alone (the baseline done): one array, no wait.
  const auto some = SubmitCommands(*c, {.repo = "/repo", .qsweep = "/bin/qsweep", .indices = {1, 2}});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0][2], "--array=1,2");
  EXPECT_EQ(some[1][2], "--dependency=afterok:%ARRAY%");
  // Without the exact statistics, one array as before.
  c->exact_token_stats = false;
  EXPECT_EQ(SubmitCommands(*c, {.repo = "/repo", .qsweep = "/bin/qsweep"}).size(), 2u);
}

TEST(SlurmSubmit, WaitingJobsEndWhenTheirDependencyFails) {
  auto c = ParseSweepConfig("name: p\nmodel: m\nschemes: [w8a16]\ntasks: [{name: t, path: t}]\noutput: /o\n", "/c.yaml");
  ASSERT_TRUE(c.ok());
  const auto cmds = SubmitCommands(*c, {.repo = "/r", .qsweep = "/q"});
  EXPECT_EQ(cmds.back()[3], "--kill-on-invalid-dep=yes");
}

TEST(SlurmSubmit, ArgumentsThatChangeWhatJobsRunAreRefused) {
  for (const char* bad : {"--wrap=rm -rf ~", "--output=/etc/x", "--dependency=afterany:1", "-p", "--array=0-99"}) {
    auto c = ParseSweepConfig(std::string("name: p\nmodel: m\nschemes: [w8a16]\ntasks: [{name: t, path: t}]\n"
                                          "output: /o\nslurm: {args: [\"") + bad + "\"]}\n", "/c.yaml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("is not allowed"), std::string::npos) << c.status();
  }
}

TEST(SlurmSubmit, DryRunLinesReadBackAsTheArguments) {
  const std::vector<std::string> argv = {"sbatch", "--job-name=qsweep-x; rm -rf /", "it's", "$HOME", "a b", ""};
  const std::string line = ShellQuoted(argv);
  auto out = RunCommand({"bash", "-c", "for a in " + line + "; do printf '[%s]' \"$a\"; done"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "[sbatch][--job-name=qsweep-x; rm -rf /][it's][$HOME][a b][]");
}

TEST(SlurmSubmit, PlanListsBaselineFirst) {
  auto c = ParseSweepConfig("name: p\nmodel: m\nschemes: [w8a16]\ntasks: [{name: t, path: t}]\noutput: /nonexistent/o\n", "/c.yaml");
  ASSERT_TRUE(c.ok());
  const auto plan = PlanSweep(*c);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].scheme, "bf16");
  EXPECT_EQ(plan[1].run_file, "/nonexistent/o/runs/w8a16.h5");
  EXPECT_EQ(plan[1].state, "missing");
}

TEST(RunCommand, CapturesOutputAndReportsFailures) {
  auto ok = RunCommand({"echo", "a b", "c"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "a b c\n");
  auto bad = RunCommand({"false"});
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(RunCommand({"/no/such/program"}).ok());
}

}  // namespace
}  // namespace qsweep
