// The metrics file round trip: what `qsweep metrics` computes from two runs
// is what `qsweep report` reads back, bit for bit; damaged files are refused.
#include "io/metrics_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include <fstream>

#include <gtest/gtest.h>

#include "compare/compare_runs.h"
#include "io/h5_edit_for_test.h"
#include "io/metrics_reader.h"
#include "report/summary_table.h"
#include "test_paths.h"

namespace qsweep {
namespace {

// A run with valid scores: choice log-likelihoods (NaN padding) and, per
// token, a true log-softmax over a small vocabulary with its top-K.
RunData FakeRun(uint32_t seed, const std::string& scheme) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  RunData d;
  d.header.model = "m";
  d.header.model_id = "id";
  d.header.requests_id = "req";
  d.header.scheme = scheme;
  d.header.topk = 4;
  d.header.bits_per_weight = scheme == "bf16" ? 16 : 4.25;
  d.header.model_bytes = scheme == "bf16" ? 2000 : 600;
  d.header.batch_invariant = true;
  std::mt19937 fixed(7);  // labels and shapes are the same in every run
  for (const char* name : {"arc", "piqa"}) {
    ChoiceRows r;
    r.samples = 40;
    r.max_choices = 4;
    for (int64_t i = 0; i < r.samples; ++i) {
      const int32_t n = 2 + static_cast<int32_t>(fixed() % 3);
      r.sample_id.push_back(i);
      r.label.push_back(static_cast<int32_t>(fixed() % n));
      r.n_choices.push_back(n);
      for (int c = 0; c < 4; ++c) {
        r.choice_logprob.push_back(c < n ? -5 + normal(rng) : NAN);
        r.choice_tokens.push_back(c < n ? 2 : 0);
        r.choice_bytes.push_back(c < n ? 8 : 0);
        r.choice_greedy.push_back(0);
      }
    }
    d.tasks.emplace_back(name, std::move(r));
  }
  TokenRows t;
  t.tokens = 50;
  t.topk = 4;
  for (int64_t i = 0; i < t.tokens; ++i) {
    std::vector<double> logit(16);
    for (auto& l : logit) l = 2 * normal(rng);
    double mx = *std::max_element(logit.begin(), logit.end()), sum = 0;
    for (double l : logit) sum += std::exp(l - mx);
    const double lse = mx + std::log(sum);
    const int32_t token = static_cast<int32_t>(fixed() % 16);
    std::vector<int32_t> order(16);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return logit[a] > logit[b]; });
    t.token_id.push_back(token);
    t.nll.push_back(static_cast<float>(lse - logit[token]));
    t.logsumexp.push_back(static_cast<float>(lse));
    t.is_argmax.push_back(order[0] == token);
    for (int k = 0; k < 4; ++k) {
      t.topk_id.push_back(order[k]);
      t.topk_logprob.push_back(static_cast<float>(logit[order[k]] - lse));
    }
  }
  d.corpora.emplace_back("wiki", std::move(t));
  return d;
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(MetricsFile, RoundTripIsExact) {
  const auto dir = testing::ScratchDir("metrics_file");
  auto m = CompareRuns({"base.h5", FakeRun(1, "bf16")}, {{"q.h5", FakeRun(2, "w4a16-g128")}});
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<SummaryRow> rows = SummaryRows(*m);
  rows[0].device = "NVIDIA H200";  // what each run's speed was measured on; "" where not measured
  const std::string p = (dir / "metrics.h5").string();
  ASSERT_TRUE(WriteMetricsFile(p, *m, rows).ok());
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
  auto back = ReadMetricsFile(p);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->model, "m");
  EXPECT_EQ(back->baseline, "bf16");
  ASSERT_EQ(back->schemes, (std::vector<std::string>{rows[0].scheme, rows[1].scheme}));
  EXPECT_EQ(back->devices, (std::vector<std::string>{"NVIDIA H200", ""}));
  ASSERT_EQ(back->summary.at("accuracy").size(), 2u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back->summary.at("accuracy")[i], rows[i].accuracy);
    EXPECT_EQ(back->summary.at("flips_correct_to_incorrect")[i], rows[i].flips_c2i);
    EXPECT_EQ(back->summary.at("answer_kl_mean")[i], rows[i].answer_kl_mean);
    EXPECT_EQ(back->summary.at("ppl")[i], rows[i].ppl);
    EXPECT_EQ(back->summary.at("mcnemar_p")[i], rows[i].mcnemar_p);
  }
  EXPECT_GT(back->summary.at("answer_kl_mean")[1], 0);  // the runs differ: a test that can fail
  ASSERT_EQ(back->candidates.size(), 1u);
  const MetricsCandidateData& c = back->candidates[0];
  const CandidateMetrics& want = m->candidates[0];
  EXPECT_EQ(c.scheme, "w4a16-g128");
  EXPECT_TRUE(SameBits(c.answer_kl, want.pooled.answer_kl.per_sample));
  EXPECT_EQ(c.answer_kl.size(), 80u);
  EXPECT_EQ(c.bin_count.size(), want.pooled.margins.bins.size());
  EXPECT_EQ(back->task_names, (std::vector<std::string>{"arc", "piqa"}));
  EXPECT_EQ(c.tasks.at("piqa").accuracy, want.tasks[1].comparison.acc.candidate.accuracy);
  EXPECT_EQ(c.tasks.at("arc").flip_rate, want.tasks[0].comparison.acc.flips.flip_rate);
  const auto& arc = want.tasks[0].comparison.acc;
  EXPECT_EQ(c.tasks.at("arc").flips_c2i, arc.flips.correct_to_incorrect_rate);
  EXPECT_EQ(c.tasks.at("arc").flips_i2c, arc.flips.incorrect_to_correct_rate);
  EXPECT_EQ(c.tasks.at("arc").delta_lo, arc.intervals.delta_accuracy.lo);
  EXPECT_EQ(c.tasks.at("arc").delta_hi, arc.intervals.delta_accuracy.hi);
  EXPECT_EQ(c.tasks.at("arc").mcnemar_p, arc.mcnemar.p_value);
  const auto& k = c.corpora.at("wiki");
  EXPECT_TRUE(SameBits(k.token_kl, want.corpora[0].comparison.kl_per_token));
  EXPECT_TRUE(SameBits(k.dp, want.corpora[0].comparison.dp.per_token));
  EXPECT_EQ(k.ppl, want.corpora[0].comparison.perplexity.candidate.ppl);
  EXPECT_TRUE(k.kl_is_bound);  // top-K only
}

// The layout a header says it ran on; `world` is display text only.
void SetLayout(RunHeader& h, int64_t tp, BackendKind backend, Reduction reduction) {
  h.ranks = h.tp = tp;
  h.replicas = 1;
  h.backend = backend;
  h.reduction = reduction;
  h.world = "not read";
}

TEST(CompareRuns, RunsFromAnotherBackendAreComparedWithAWarning) {
  RunData base = FakeRun(1, "bf16"), same = FakeRun(2, "w4a16-g128"), other = FakeRun(3, "w8a16");
  SetLayout(base.header, 1, BackendKind::kCpu, Reduction::kTpInvariant);
  SetLayout(same.header, 2, BackendKind::kCpu, Reduction::kTpInvariant);  // another tp: the same bits
  SetLayout(other.header, 2, BackendKind::kCuda, Reduction::kTpInvariant);
  auto m = CompareRuns({"base.h5", base}, {{"q.h5", same}, {"g.h5", other}});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->warnings.size(), 1u);
  EXPECT_NE(m->warnings[0].find("g.h5 ran on the cuda backend, the baseline base.h5 on cpu"), std::string::npos)
      << m->warnings[0];
}

TEST(CompareRuns, RunsWhoseRoundingDependsOnTpAreComparedWithAWarning) {
  RunData base = FakeRun(1, "bf16"), same = FakeRun(2, "w4a16-g128"), fast = FakeRun(3, "w8a16"),
          other_tp = FakeRun(4, "w2a16-g64");
  SetLayout(base.header, 1, BackendKind::kCuda, Reduction::kFast);
  SetLayout(same.header, 1, BackendKind::kCuda, Reduction::kFast);
  SetLayout(fast.header, 1, BackendKind::kCuda, Reduction::kTpInvariant);
  SetLayout(other_tp.header, 2, BackendKind::kCuda, Reduction::kFast);
  EXPECT_EQ(ReductionOf(base.header), "fast at tp 1");
  EXPECT_EQ(ReductionOf(fast.header), "tp-invariantly");
  auto m = CompareRuns({"base.h5", base}, {{"q.h5", same}, {"f.h5", fast}, {"t.h5", other_tp}});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->warnings.size(), 2u);
  EXPECT_NE(m->warnings[0].find("f.h5 summed its row-parallel layers tp-invariantly, the baseline base.h5 fast at tp 1"),
            std::string::npos)
      << m->warnings[0];
  EXPECT_NE(m->warnings[1].find("t.h5 summed its row-parallel layers fast at tp 2, the baseline base.h5 fast at tp 1"),
            std::string::npos)
      << m->warnings[1];
}

// A run from before batch-invariant scoring carries batching noise into its
// flips and KL: compared, with a warning that names it.
TEST(CompareRuns, RunsScoredBeforeBatchInvarianceAreComparedWithAWarning) {
  RunData base = FakeRun(1, "bf16"), now = FakeRun(2, "w4a16-g128"), old = FakeRun(3, "w8a16");
  old.header.batch_invariant = false;
  auto m = CompareRuns({"base.h5", base}, {{"q.h5", now}, {"old.h5", old}});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->warnings.size(), 1u);
  EXPECT_NE(m->warnings[0].find("old.h5 was scored before batch-invariant scoring"), std::string::npos)
      << m->warnings[0];
  base.header.batch_invariant = false;
  auto b = CompareRuns({"base.h5", base}, {{"q.h5", now}});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->warnings.size(), 1u);
  EXPECT_NE(b->warnings[0].find("base.h5 was scored before"), std::string::npos) << b->warnings[0];
}

// The output rule (core/output_file.h) at a writer: never over an input,
// never anything but a regular file, and no temporary left behind.
TEST(MetricsFile, NeverWrittenOverItsInputsOrADevice) {
  const auto dir = testing::ScratchDir("metrics_file_outputs");
  const std::string base = (dir / "base.h5").string();
  { std::ofstream(base) << "a run file"; }
  auto m = CompareRuns({base, FakeRun(1, "bf16")}, {{"q.h5", FakeRun(2, "w4a16-g128")}});
  ASSERT_TRUE(m.ok());
  const absl::Status over = WriteMetricsFile(base, *m, SummaryRows(*m));
  EXPECT_NE(over.message().find("the output is the input " + base), std::string::npos) << over;
  EXPECT_EQ(std::ifstream(base).get(), 'a');
  const absl::Status dev = WriteMetricsFile("/dev/full", *m, SummaryRows(*m));
  EXPECT_NE(dev.message().find("/dev/full: the output is a device"), std::string::npos) << dev;
  EXPECT_FALSE(std::filesystem::exists(base + ".tmp"));
}

TEST(MetricsFile, IncompleteOrForeignFilesAreRefused) {
  const auto dir = testing::ScratchDir("metrics_file_bad");
  auto m = CompareRuns({"base.h5", FakeRun(1, "bf16")}, {{"q.h5", FakeRun(2, "w4a16-g128")}});
  ASSERT_TRUE(m.ok());
  const std::string p = (dir / "metrics.h5").string();
  auto expect_error = [&](const std::string& needle) {
    auto r = ReadMetricsFile(p);
    ASSERT_FALSE(r.ok());
    const std::string msg(r.status().message());
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  ASSERT_TRUE(WriteMetricsFile(p, *m, SummaryRows(*m)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.DeleteAttr("/", "complete"));
  }
  expect_error("incomplete metrics file");
  ASSERT_TRUE(WriteMetricsFile(p, *m, SummaryRows(*m)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetIntAttr("/", "schema_version", 9));
  }
  expect_error("metrics schema version 9, expected 1");
  ASSERT_TRUE(WriteMetricsFile(p, *m, SummaryRows(*m)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.Replace("/summary/ppl", std::vector<double>{1.0}));
  }
  expect_error("/summary/ppl has 1 rows for 2 schemes");
  ASSERT_TRUE(WriteMetricsFile(p, *m, SummaryRows(*m)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetStringAttr("/summary", "devices", "NVIDIA H200\nNVIDIA H200\ncpu"));
  }
  expect_error("/summary has 3 devices for 2 schemes");
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.DeleteAttr("/summary", "devices"));  // as files written before devices were recorded
  }
  {
    auto old = ReadMetricsFile(p);
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(old->devices, (std::vector<std::string>{"", ""}));
  }
  ASSERT_TRUE(WriteMetricsFile(p, *m, SummaryRows(*m)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.Replace("/candidates/w4a16-g128/all_tasks/margin_bin_count", std::vector<int64_t>{1, 2}));
  }
  expect_error("/candidates/w4a16-g128/all_tasks: the margin-bin arrays have different lengths");
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetIntAttr("/", "kind", 3));
  }
  expect_error("not a qsweep metrics file");
}

}  // namespace
}  // namespace qsweep
