#include "io/run_file.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "core/dtype.h"
#include "io/baseline_run.h"
#include "io/h5_edit_for_test.h"
#include "record_members.h"
#include "io/metrics_reader.h"
#include "io/request_file.h"
#include "test_paths.h"

namespace qsweep {
namespace {

RequestSet RandomRequests(uint32_t seed) {
  std::mt19937 rng(seed);
  auto toks = [&](int n) {
    std::vector<int32_t> v(n);
    for (auto& t : v) t = static_cast<int32_t>(rng() % 1000);
    return v;
  };
  RequestSet rs;
  rs.tokenizer = "test-tokenizer";
  for (int t = 0; t < 2; ++t) {
    McTaskRequests task;
    task.name = t == 0 ? "zeta" : "alpha";  // creation order must survive
    for (int i = 0; i < 23; ++i) {
      McSampleRequest s;
      s.sample_id = i;
      const int choices = 2 + static_cast<int>(rng() % 3);
      s.label = static_cast<int32_t>(rng() % choices);
      const bool per_choice = i % 5 == 0;
      for (int c = 0; c < (per_choice ? choices : 1); ++c) s.contexts.push_back(toks(1 + rng() % 9));
      for (int c = 0; c < choices; ++c) {
        s.continuations.push_back(toks(1 + rng() % 4));
        s.continuation_bytes.push_back(1 + rng() % 30);
      }
      task.samples.push_back(s);
    }
    rs.tasks.push_back(task);
  }
  PplCorpusRequests c;
  c.name = "text";
  c.tokens = toks(300);
  c.window = 64;
  c.stride = 32;
  rs.corpora.push_back(c);
  GenTaskRequests g;
  g.name = "story";
  for (int i = 0; i < 9; ++i) {
    GenSampleRequest s;
    s.prompt = toks(1 + rng() % 12);
    s.sample.id = "s" + std::to_string(i);
    s.sample.prompt = "prompt \"" + std::to_string(i) + "\"\n";
    s.sample.answers = {std::to_string(rng() % 100), "x"};
    s.sample.max_tokens = 1 + static_cast<int32_t>(rng() % 6);
    if (i % 3 == 1) {
      s.sample.scorer = {.kind = tasks::AnswerScorer::Kind::kRegex, .pattern = "#### (\\d+)", .last_match = i == 4};
      s.sample.stop = {"\n\n", "Q:"};
    }
    g.samples.push_back(s);
  }
  rs.gen_tasks.push_back(g);
  return rs;
}

bool SameRequests(const RequestSet& a, const RequestSet& b) {
  if (a.tasks.size() != b.tasks.size() || a.corpora.size() != b.corpora.size()) return false;
  for (size_t t = 0; t < a.tasks.size(); ++t) {
    if (a.tasks[t].name != b.tasks[t].name || a.tasks[t].samples.size() != b.tasks[t].samples.size()) return false;
    for (size_t i = 0; i < a.tasks[t].samples.size(); ++i) {
      const auto &x = a.tasks[t].samples[i], &y = b.tasks[t].samples[i];
      if (x.label != y.label || x.contexts != y.contexts || x.continuations != y.continuations ||
          x.continuation_bytes != y.continuation_bytes || x.sample_id != y.sample_id)
        return false;
    }
  }
  if (a.gen_tasks.size() != b.gen_tasks.size()) return false;
  for (size_t t = 0; t < a.gen_tasks.size(); ++t) {
    if (a.gen_tasks[t].name != b.gen_tasks[t].name || a.gen_tasks[t].samples.size() != b.gen_tasks[t].samples.size())
      return false;
    for (size_t i = 0; i < a.gen_tasks[t].samples.size(); ++i)
      if (a.gen_tasks[t].samples[i].prompt != b.gen_tasks[t].samples[i].prompt ||
          !(a.gen_tasks[t].samples[i].sample == b.gen_tasks[t].samples[i].sample))
        return false;
  }
  return a.corpora[0].tokens == b.corpora[0].tokens && a.ContentId() == b.ContentId();
}

TEST(RequestFile, RoundTrip) {
  const auto dir = testing::ScratchDir("request_file");
  const RequestSet rs = RandomRequests(1);
  ASSERT_TRUE(WriteRequestFile((dir / "r.h5").string(), rs).ok());
  auto back = ReadRequestFile((dir / "r.h5").string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameRequests(rs, *back));
  EXPECT_EQ(back->tasks[0].name, "zeta");
  EXPECT_FALSE(std::filesystem::exists(dir / "r.h5.tmp"));
}

TEST(RequestFile, BadFilesGiveClearErrors) {
  const auto dir = testing::ScratchDir("request_file_bad");
  std::ofstream(dir / "junk.h5") << "not hdf5 at all";
  auto junk = ReadRequestFile((dir / "junk.h5").string());
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("junk.h5: not an HDF5 file"), std::string::npos) << junk.status();
  auto missing = ReadRequestFile((dir / "none.h5").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no such file"), std::string::npos);
}

// A fake result for a unit, deterministic in the unit.
UnitResult FakeResult(const RequestSet& rs, const WorkUnit& u, const RunHeader& h) {
  std::mt19937 rng(static_cast<uint32_t>(u.id * 7 + 1));
  if (u.kind == WorkUnit::Kind::kChoices) {
    const auto& task = rs.tasks[u.source];
    ChoiceRows r;
    r.samples = u.end - u.begin;
    r.max_choices = task.max_choices();
    for (int64_t i = u.begin; i < u.end; ++i) {
      r.sample_id.push_back(task.samples[i].sample_id);
      r.label.push_back(task.samples[i].label);
      r.n_choices.push_back(static_cast<int32_t>(task.samples[i].choices()));
      for (int64_t c = 0; c < r.max_choices; ++c) {
        const bool used = c < task.samples[i].choices();
        r.choice_logprob.push_back(used ? -static_cast<double>(rng() % 1000) / 37 : NAN);
        r.choice_tokens.push_back(used ? 1 + rng() % 5 : 0);
        r.choice_bytes.push_back(used ? task.samples[i].continuation_bytes[c] : 0);
        r.choice_greedy.push_back(used ? rng() % 2 : 0);
      }
    }
    return r;
  }
  if (u.kind == WorkUnit::Kind::kGenerate) {
    const GenTaskRequests& task = rs.gen_tasks[u.source];
    GenRows r;
    r.samples = u.end - u.begin;
    r.max_tokens = task.max_tokens();
    r.max_text = r.max_tokens * kTextBytesPerToken;
    for (int64_t i = u.begin; i < u.end; ++i) {
      const int32_t n = static_cast<int32_t>(rng() % (task.samples[i].sample.max_tokens + 1));
      r.sample_id.push_back(i);
      r.n_tokens.push_back(n);
      for (int64_t k = 0; k < r.max_tokens; ++k) {
        r.tokens.push_back(k < n ? static_cast<int32_t>(rng() % 1000) : -1);
        r.token_logprob.push_back(k < n ? -static_cast<float>(rng() % 100) / 7 : NAN);
      }
      r.stop_reason.push_back(static_cast<uint8_t>(rng() % 4));
      r.correct.push_back(rng() % 2);
      const int32_t bytes = static_cast<int32_t>(rng() % (r.max_text + 5));
      r.text_bytes.push_back(bytes);
      r.text_truncated.push_back(bytes > r.max_text);
      for (int64_t k = 0; k < r.max_text; ++k) r.text.push_back(k < bytes ? static_cast<uint8_t>(32 + rng() % 90) : 0);
      r.ttft_ms.push_back(static_cast<float>(rng() % 100) / 3);
      r.decode_ms.push_back(static_cast<float>(rng() % 100) / 7);
    }
    return r;
  }
  const auto& corpus = rs.corpora[u.source];
  const auto windows = PplWindows(static_cast<int64_t>(corpus.tokens.size()), corpus.window, corpus.stride);
  TokenRows t;
  t.topk = h.topk;
  t.vocab = h.full_logprobs ? h.vocab_size : 0;
  const bool bf16 = h.hidden_dtype == "bf16";
  t.hidden = h.hidden_dtype.empty() || bf16 ? 0 : h.hidden_size;
  t.hidden_bf16 = bf16 ? h.hidden_size : 0;
  t.paired = h.baseline_run_id.empty() ? 0 : 1;
  for (int64_t w = u.begin; w < u.end; ++w)
    for (int64_t i = windows[w].score_from; i < windows[w].end; ++i) {
      ++t.tokens;
      t.token_id.push_back(corpus.tokens[i]);
      t.nll.push_back(static_cast<float>(rng() % 100) / 10);
      t.logsumexp.push_back(static_cast<float>(rng() % 100));
      t.is_argmax.push_back(rng() % 2);
      for (int k = 0; k < t.topk; ++k) {
        t.topk_id.push_back(static_cast<int32_t>(rng() % 1000));
        t.topk_logprob.push_back(-static_cast<float>(k));
      }
      for (int64_t v = 0; v < t.vocab; ++v) t.logprob_f16.push_back(static_cast<uint16_t>(rng()));
      // Values exact in bfloat16 (8 significant bits), of both signs and many scales.
      for (int64_t d = 0; d < t.hidden + t.hidden_bf16; ++d)
        (bf16 ? t.final_hidden_bf16 : t.final_hidden)
            .push_back(std::ldexp(static_cast<float>(static_cast<int>(rng() % 511) - 255), static_cast<int>(rng() % 40) - 20));
      if (t.paired) {
        t.kl_base_cand.push_back(static_cast<double>(rng() % 1000) / 997);
        t.kl_cand_base.push_back(static_cast<double>(rng() % 1000) / 991);
        t.base_nll.push_back(static_cast<double>(rng() % 1000) / 89);
        t.cand_nll.push_back(static_cast<double>(rng() % 1000) / 83);
        t.base_top1.push_back(static_cast<int32_t>(rng() % 1000));
      }
    }
  return t;
}

RunHeader Header() {
  RunHeader h;
  h.model = "synthetic:tiny";
  h.model_id = "abc";
  h.scheme = "w4a16-g128";
  h.requests_id = RandomRequests(2).ContentId();
  h.topk = 4;
  h.vocab_size = 16;
  h.full_logprobs = true;
  h.created = "2026-11-22T00:00:00Z";
  return h;
}

// Every header field set to a value of its own (the schema version stays:
// readers accept only theirs), consistent with FakeResult's rows.
RunHeader DistinctHeader() {
  RunHeader h = Header();
  int64_t i = 0;
  ForEachField(
      [&](const HeaderField& field, auto& v) {
        using T = std::remove_cvref_t<decltype(v)>;
        ++i;
        if (std::string(field.name) == "schema_version") return;
        if constexpr (std::is_same_v<T, std::string>)
          v = std::string(field.name) + " value";
        else if constexpr (std::is_same_v<T, bool>)
          v = !v;
        else if constexpr (std::is_enum_v<T>)
          v = NamesOf(v).back().value;  // not the default
        else
          v = static_cast<T>(i + 0.25 * std::is_floating_point_v<T>);
      },
      h);
  return h;
}

void ExpectSameHeaders(const RunHeader& a, const RunHeader& b) {
  ForEachField([](const HeaderField& field, const auto& x, const auto& y) { EXPECT_EQ(x, y) << field.name; }, a, b);
}

TEST(RunHeader, ListNamesEveryMemberOnce) {
  RunHeader h;
  std::set<const void*> members;
  size_t n = 0;
  ForEachField(
      [&](const HeaderField&, const auto& v) {
        ++n;
        members.insert(&v);
      },
      h);
  EXPECT_EQ(n, testing::CountMembers<RunHeader>());
  EXPECT_EQ(members.size(), n);
}

TEST(RunHeader, EveryFieldRoundTripsTheJournalAndTheRunFile) {
  const auto dir = testing::ScratchDir("run_header_fields");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const RunHeader h = DistinctHeader();
  EXPECT_NE(h.topk, Header().topk);
  EXPECT_EQ(h.full_logprobs, !Header().full_logprobs);
  const std::string p = (dir / "r.h5").string();
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, h).ok());
  auto resumed = RunJournal::OpenOrCreate(p, h);  // reads the header record back
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ExpectSameHeaders((*resumed)->header(), h);
  for (const auto& u : units) ASSERT_TRUE((*resumed)->Append(u, FakeResult(rs, u, h)).ok());
  ASSERT_TRUE((*resumed)->Finalize(rs, units).ok());
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  ExpectSameHeaders(run->header, h);
}

// A field that must match names itself, both values and what it means.
TEST(RunHeader, MismatchNamesTheField) {
  RunHeader a = Header(), b = Header();
  EXPECT_EQ(RunMismatch(a, b), "");
  b.created = "another time";
  b.qsweep_version = "9.9";
  EXPECT_EQ(RunMismatch(a, b), "");
  b.full_logprobs = false;
  EXPECT_EQ(RunMismatch(a, b), "full_logprobs true, not false (another scoring option)");
  b = Header();
  b.schema_version = 7;
  EXPECT_EQ(RunMismatch(a, b), "schema_version 1, not 7");
}

TEST(RunJournal, InterruptedRunEndsIdenticalToUninterrupted) {
  const auto dir = testing::ScratchDir("run_journal");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {.samples_per_unit = 5, .windows_per_unit = 2});
  const RunHeader h = Header();
  // Uninterrupted, units in reverse order (arrival order must not matter).
  {
    auto j = RunJournal::OpenOrCreate((dir / "a.h5").string(), h);
    ASSERT_TRUE(j.ok()) << j.status();
    for (auto it = units.rbegin(); it != units.rend(); ++it)
      ASSERT_TRUE((*j)->Append(*it, FakeResult(rs, *it, h)).ok());
    ASSERT_TRUE((*j)->Finalize(rs, units).ok());
  }
  // Interrupted: half the units, a torn record, then a restart.
  const std::string b = (dir / "b.h5").string();
  {
    auto j = RunJournal::OpenOrCreate(b, h);
    ASSERT_TRUE(j.ok());
    for (size_t i = 0; i < units.size() / 2; ++i) ASSERT_TRUE((*j)->Append(units[i], FakeResult(rs, units[i], h)).ok());
  }
  const auto size = std::filesystem::file_size(b + ".journal");
  std::ofstream(b + ".journal", std::ios::app | std::ios::binary) << std::string("\x40\x00\x00\x00\x00\x00\x00\x00garbage", 15);
  {
    auto bad = ReadRunFile(b);
    ASSERT_FALSE(bad.ok());  // nothing that looks complete exists yet
    auto j = RunJournal::OpenOrCreate(b, h);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ((*j)->done().size(), units.size() / 2);
    EXPECT_EQ(std::filesystem::file_size(b + ".journal"), size);
    for (const auto& u : units)
      if (!(*j)->done().count(u.id)) {
        ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
      }
    ASSERT_TRUE((*j)->Finalize(rs, units).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(b + ".journal"));
  auto ra = ReadRunFile((dir / "a.h5").string()), rb = ReadRunFile(b);
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  ASSERT_EQ(ra->tasks.size(), 2u);
  EXPECT_EQ(ra->tasks[0].first, "zeta");
  for (size_t t = 0; t < 2; ++t) {
    const ChoiceRows &x = ra->tasks[t].second, &y = rb->tasks[t].second;
    EXPECT_EQ(x.label, y.label);
    EXPECT_EQ(x.choice_tokens, y.choice_tokens);
    EXPECT_EQ(x.choice_greedy, y.choice_greedy);
    EXPECT_EQ(0, std::memcmp(x.choice_logprob.data(), y.choice_logprob.data(), x.choice_logprob.size() * 8));
  }
  EXPECT_EQ(ra->corpora[0].second.nll, rb->corpora[0].second.nll);
  EXPECT_EQ(ra->corpora[0].second.logprob_f16, rb->corpora[0].second.logprob_f16);
  EXPECT_EQ(ra->corpora[0].second.tokens, rs.corpora[0].scored_tokens());
  // Every placed value is the one the unit produced.
  const UnitResult first = FakeResult(rs, units[0], h);
  EXPECT_EQ(std::get<ChoiceRows>(first).choice_tokens,
            std::vector<int32_t>(ra->tasks[0].second.choice_tokens.begin(), ra->tasks[0].second.choice_tokens.begin() + 5 * ra->tasks[0].second.max_choices));
}

// Two writers of one run: the second is refused at once, naming the run;
// once the first is done, the run opens again (and no lock file stays).
TEST(RunJournal, ASecondWriterOfTheSameRunIsRefused) {
  const auto dir = testing::ScratchDir("run_journal_lock");
  const std::string p = (dir / "r.h5").string();
  auto first = RunJournal::OpenOrCreate(p, Header());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = RunJournal::OpenOrCreate(p, Header());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("another qsweep is writing"), std::string::npos) << second.status();
  EXPECT_NE(second.status().message().find(p), std::string::npos) << second.status();
  first->reset();
  EXPECT_FALSE(std::filesystem::exists(p + ".lock"));
  auto again = RunJournal::OpenOrCreate(p, Header());
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(RunJournal, RefusesAnotherRunsJournal) {
  const auto dir = testing::ScratchDir("run_journal_other");
  const std::string p = (dir / "r.h5").string();
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, Header()).ok());
  RunHeader other = Header();
  other.scheme = "w8a16";
  auto j = RunJournal::OpenOrCreate(p, other);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("scheme w4a16-g128, not w8a16"), std::string::npos) << j.status();
}

TEST(RunFile, ReadableByH5pyAndH5dump) {
  const auto dir = testing::ScratchDir("run_file_h5py");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const RunHeader h = Header();
  const std::string p = (dir / "r.h5").string();
  auto j = RunJournal::OpenOrCreate(p, h);
  ASSERT_TRUE(j.ok());
  for (const auto& u : units) ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
  ASSERT_TRUE((*j)->Finalize(rs, units).ok());
  if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) GTEST_SKIP() << "python3-h5py missing";
  const std::string script = "/usr/bin/python3 -c \"import h5py,numpy as np; f=h5py.File('" + p +
                             "','r'); assert f.attrs['complete']==1; assert f.attrs['scheme']==b'w4a16-g128';"
                             " t=f['tasks/zeta']; assert t['choice_logprob'].shape==(23,4), t['choice_logprob'].shape;"
                             " lp=f['ppl/text/logprob']; assert lp.dtype==np.float16 and lp.shape==(299,16);"
                             " assert list(f['tasks'].keys())==['zeta','alpha'] or set(f['tasks'].keys())=={'zeta','alpha'}\"";
  EXPECT_EQ(std::system(script.c_str()), 0) << script;
  EXPECT_EQ(std::system(("h5dump -H " + p + " > /dev/null").c_str()), 0);
}

// Every array of two runs, bit for bit (NaN padding included).
template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Every size and array of two records, through the records' field lists.
template <typename Rows>
void ExpectSameRows(const Rows& a, const Rows& b, const std::string& what) {
  ForEachSize([&](const char* name, int64_t x, int64_t y) { EXPECT_EQ(x, y) << what << " " << name; }, a, b);
  ForEachColumn(
      [&](const auto& x, const auto& y) { EXPECT_TRUE(SameBits(x.values, y.values)) << what << " " << x.name; }, a,
      b);
}

void ExpectSameRuns(const RunData& a, const RunData& b) {
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  ASSERT_EQ(a.corpora.size(), b.corpora.size());
  ASSERT_EQ(a.gens.size(), b.gens.size());
  for (size_t t = 0; t < a.gens.size(); ++t) {
    EXPECT_EQ(a.gens[t].first, b.gens[t].first);
    ExpectSameRows(a.gens[t].second, b.gens[t].second, a.gens[t].first);
  }
  for (size_t t = 0; t < a.tasks.size(); ++t) {
    EXPECT_EQ(a.tasks[t].first, b.tasks[t].first);
    ExpectSameRows(a.tasks[t].second, b.tasks[t].second, a.tasks[t].first);
  }
  for (size_t c = 0; c < a.corpora.size(); ++c) {
    EXPECT_EQ(a.corpora[c].first, b.corpora[c].first);
    ExpectSameRows(a.corpora[c].second, b.corpora[c].second, a.corpora[c].first);
  }
}

// A run written in one go, units in plan order.
void WriteWholeRun(const std::string& path, const RequestSet& rs, const std::vector<WorkUnit>& units,
                   const RunHeader& h, const RunPerformance& perf = {}) {
  auto j = RunJournal::OpenOrCreate(path, h, &units);
  ASSERT_TRUE(j.ok()) << j.status();
  for (const auto& u : units) ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
  ASSERT_TRUE((*j)->Finalize(rs, units, perf).ok());
}

// The run's own measurement: written when measured, read back as written;
// absent, the file reads as not measured; impossible values are refused.
TEST(RunFile, PerformanceRoundTripsAndIsChecked) {
  const auto dir = testing::ScratchDir("run_file_performance");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const WorkSize work = CountWork(rs, units, {});
  int64_t samples = 0, windows = 0;
  for (const auto& t : rs.tasks) samples += static_cast<int64_t>(t.samples.size());
  for (const auto& t : rs.gen_tasks) samples += static_cast<int64_t>(t.samples.size());
  for (const auto& c : rs.corpora)
    windows += static_cast<int64_t>(PplWindows(static_cast<int64_t>(c.tokens.size()), c.window, c.stride).size());
  EXPECT_EQ(work.samples, samples);
  EXPECT_EQ(work.windows, windows);
  EXPECT_EQ(CountWork(rs, units, {units[0].id}).samples + CountWork(rs, {units[0]}, {}).samples, samples);
  const RunPerformance perf{.device = "NVIDIA H200", .weight_bytes = 5 << 20, .device_bytes_in_use = 7 << 20,
                            .score_seconds = 12.5, .samples = work.samples, .windows = work.windows,
                            .tokens = work.tokens};
  const std::string p = (dir / "r.h5").string(), q = (dir / "q.h5").string();
  WriteWholeRun(p, rs, units, Header(), perf);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  const RunPerformance& got = run->performance;
  EXPECT_EQ(got.device, perf.device);
  EXPECT_EQ(got.weight_bytes, perf.weight_bytes);
  EXPECT_EQ(got.device_bytes_in_use, perf.device_bytes_in_use);
  EXPECT_EQ(got.score_seconds, perf.score_seconds);
  EXPECT_EQ(got.tokens, perf.tokens);
  EXPECT_DOUBLE_EQ(got.tokens_per_s(), perf.tokens / 12.5);
  EXPECT_NE(DescribeRunFile(*run, p).find("tokens/s"), std::string::npos);
  WriteWholeRun(q, rs, units, Header());
  auto unmeasured = ReadRunFile(q);
  ASSERT_TRUE(unmeasured.ok()) << unmeasured.status();
  EXPECT_FALSE(unmeasured->performance.measured());
  EXPECT_EQ(unmeasured->performance.tokens_per_s(), 0);
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(e.SetIntAttr("/performance", "tokens", -5));
  }
  auto bad = ReadRunFile(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(p), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("/performance"), std::string::npos) << bad.status();
}

TEST(RunFile, EveryPlacedValueIsTheUnitsOwn) {
  const auto dir = testing::ScratchDir("run_file_values");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {.samples_per_unit = 4, .windows_per_unit = 3});
  const RunHeader h = Header();
  const std::string p = (dir / "r.h5").string();
  WriteWholeRun(p, rs, units, h);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->header.scheme, h.scheme);
  EXPECT_EQ(run->header.model_id, h.model_id);
  EXPECT_EQ(run->header.created, h.created);
  EXPECT_EQ(run->header.topk, 4);
  EXPECT_TRUE(run->header.full_logprobs);
  // Slice every array of the file by each unit's rows and compare with what
  // the unit produced, bit for bit (NaN padding included).
  auto expect_unit = [](const auto& got, const auto& want, const WorkUnit& u) {
    ForEachColumn(
        [&](const auto& g, const auto& w) {
          ASSERT_EQ(g.width(), w.width()) << g.name;
          ASSERT_LE((u.first_row + w.rows) * g.width(), static_cast<int64_t>(g.values.size())) << g.name;
          const auto* from = g.values.data() + u.first_row * g.width();
          EXPECT_TRUE(w.values.empty() || std::memcmp(from, w.values.data(), w.values.size() * sizeof(w.values[0])) == 0)
              << "unit " << u.id << " " << g.name;
        },
        got, want);
  };
  int64_t checked_columns = 0;
  for (const WorkUnit& u : units) {
    const UnitResult want = FakeResult(rs, u, h);
    if (u.kind == WorkUnit::Kind::kChoices) {
      expect_unit(run->tasks[u.source].second, std::get<ChoiceRows>(want), u);
      ForEachColumn([&](const auto& c) { checked_columns += !c.values.empty(); }, std::get<ChoiceRows>(want));
    } else if (u.kind == WorkUnit::Kind::kGenerate) {
      expect_unit(run->gens[u.source].second, std::get<GenRows>(want), u);
      ForEachColumn([&](const auto& c) { checked_columns += !c.values.empty(); }, std::get<GenRows>(want));
    } else {
      expect_unit(run->corpora[u.source].second, std::get<TokenRows>(want), u);
      ForEachColumn([&](const auto& c) { checked_columns += !c.values.empty(); }, std::get<TokenRows>(want));
    }
  }
  EXPECT_GT(checked_columns, 0);
  EXPECT_EQ(run->corpora[0].second.vocab, 16);  // the optional full rows are there
  const std::string text = DescribeRunFile(*run, p);
  EXPECT_NE(text.find("schema version 1, complete"), std::string::npos) << text;
  EXPECT_NE(text.find("task zeta         23 samples, up to 4 choices"), std::string::npos) << text;
  EXPECT_NE(text.find("corpus text       299 scored tokens"), std::string::npos) << text;
  EXPECT_NE(text.find("generate story    9 samples"), std::string::npos) << text;
}

// Full log-prob rows only when asked for: no dataset, and a width of 0 read back.
TEST(RunFile, FullRowsAreWrittenOnlyWhenAskedFor) {
  const auto dir = testing::ScratchDir("run_file_no_full_rows");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  RunHeader h = Header();
  h.full_logprobs = false;
  const std::string p = (dir / "r.h5").string();
  WriteWholeRun(p, rs, units, h);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  const TokenRows& t = run->corpora[0].second;
  EXPECT_EQ(t.vocab, 0);
  EXPECT_TRUE(t.logprob_f16.empty());
  EXPECT_EQ(t.topk, 4);
  EXPECT_EQ(static_cast<int64_t>(t.topk_id.size()), t.tokens * 4);
  EXPECT_NE(std::system(("h5dump -d /ppl/text/logprob " + p + " > /dev/null 2>&1").c_str()), 0);
}

// kill -9 in the middle of writing a record: the torn unit is not done, and
// the rerun ends with the same data as a run that was never interrupted.
TEST(RunJournal, TornRecordMidwayIsRedone) {
  const auto dir = testing::ScratchDir("run_journal_torn");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {.samples_per_unit = 5, .windows_per_unit = 2});
  const RunHeader h = Header();
  WriteWholeRun((dir / "a.h5").string(), rs, units, h);
  const std::string b = (dir / "b.h5").string();
  const size_t half = units.size() / 2;
  uintmax_t before_last = 0;
  {
    auto j = RunJournal::OpenOrCreate(b, h, &units);
    ASSERT_TRUE(j.ok());
    for (size_t i = 0; i < half; ++i) {
      before_last = std::filesystem::file_size(b + ".journal");
      ASSERT_TRUE((*j)->Append(units[i], FakeResult(rs, units[i], h)).ok());
    }
  }
  const uintmax_t full = std::filesystem::file_size(b + ".journal");
  // Cut inside the last record's payload, then inside its 16-byte head.
  for (uintmax_t cut : {before_last + (full - before_last) / 2, before_last + 9}) {
    std::filesystem::resize_file(b + ".journal", cut);
    auto j = RunJournal::OpenOrCreate(b, h, &units);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ((*j)->done().size(), half - 1);
    EXPECT_FALSE((*j)->done().count(units[half - 1].id));
    EXPECT_EQ(std::filesystem::file_size(b + ".journal"), before_last);  // torn tail dropped
    ASSERT_TRUE((*j)->Append(units[half - 1], FakeResult(rs, units[half - 1], h)).ok());
  }
  {
    auto j = RunJournal::OpenOrCreate(b, h, &units);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ((*j)->done().size(), half);
    ASSERT_FALSE((*j)->Finalize(rs, units).ok());  // not all units are in
    for (const auto& u : units)
      if (!(*j)->done().count(u.id)) {
        ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
      }
    ASSERT_TRUE((*j)->Finalize(rs, units).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(b + ".journal"));
  EXPECT_FALSE(std::filesystem::exists(b + ".tmp"));
  auto ra = ReadRunFile((dir / "a.h5").string()), rb = ReadRunFile(b);
  ASSERT_TRUE(ra.ok() && rb.ok());
  ExpectSameRuns(*ra, *rb);
}

TEST(RunJournal, JournalTornBeforeItsHeaderStartsAfresh) {
  const auto dir = testing::ScratchDir("run_journal_headless");
  const std::string p = (dir / "r.h5").string();
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, Header()).ok());
  std::filesystem::resize_file(p + ".journal", 20);  // magic + part of the header record
  auto j = RunJournal::OpenOrCreate(p, Header());
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE((*j)->done().empty());
  EXPECT_GT(std::filesystem::file_size(p + ".journal"), 20u);
}

// A damaged record length (one byte) is checked against the file before it
// is allocated: the units before it are kept, the rest are redone, and a
// journal damaged before its header is refused, never overwritten.
TEST(RunJournal, DamagedLengthsAndHeadersKeepTheFinishedWork) {
  const auto dir = testing::ScratchDir("run_journal_damaged");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {.samples_per_unit = 5, .windows_per_unit = 2});
  const RunHeader h = Header();
  const std::string b = (dir / "b.h5").string(), journal = b + ".journal";
  std::vector<uintmax_t> starts;  // where each unit's record begins
  {
    auto j = RunJournal::OpenOrCreate(b, h, &units);
    ASSERT_TRUE(j.ok());
    for (size_t i = 0; i < 3; ++i) {
      starts.push_back(std::filesystem::file_size(journal));
      ASSERT_TRUE((*j)->Append(units[i], FakeResult(rs, units[i], h)).ok());
    }
  }
  auto poke = [&](uintmax_t at, char value) {
    std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(value);
  };
  poke(starts[1] + 4, '\x7f');  // unit 1's length: now about 2^39 bytes
  {
    auto j = RunJournal::OpenOrCreate(b, h, &units);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ((*j)->done(), (std::set<int64_t>{units[0].id}));
    EXPECT_EQ(std::filesystem::file_size(journal), starts[1]);
  }
  poke(2, 'X');  // the magic
  const uintmax_t size = std::filesystem::file_size(journal);
  auto j = RunJournal::OpenOrCreate(b, h, &units);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("the journal is damaged before its header"), std::string::npos) << j.status();
  EXPECT_EQ(std::filesystem::file_size(journal), size);  // nothing thrown away
}

// Another unit size between the interrupted run and the rerun would place
// rows wrongly: refused at open (with the plan) and at Finalize (always).
TEST(RunJournal, ChangedUnitPlanIsRefused) {
  const auto dir = testing::ScratchDir("run_journal_plan");
  const RequestSet rs = RandomRequests(2);
  const RunHeader h = Header();
  const auto old_plan = PlanWorkUnits(rs, {.samples_per_unit = 5, .windows_per_unit = 2});
  const auto new_plan = PlanWorkUnits(rs, {.samples_per_unit = 5, .windows_per_unit = 4});
  const std::string p = (dir / "r.h5").string();
  {
    auto j = RunJournal::OpenOrCreate(p, h, &old_plan);
    ASSERT_TRUE(j.ok());
    for (const auto& u : old_plan) ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
  }
  auto refused = RunJournal::OpenOrCreate(p, h, &new_plan);
  ASSERT_FALSE(refused.ok());
  const std::string msg(refused.status().message());
  EXPECT_NE(msg.find(p + ".journal"), std::string::npos) << msg;
  EXPECT_NE(msg.find("windows_per_unit"), std::string::npos) << msg;
  EXPECT_NE(msg.find("covers corpus 0, windows ["), std::string::npos) << msg;
  // Without the plan at open, Finalize still refuses to place the rows.
  auto j = RunJournal::OpenOrCreate(p, h);
  ASSERT_TRUE(j.ok());
  const absl::Status fin = (*j)->Finalize(rs, new_plan);
  ASSERT_FALSE(fin.ok());
  EXPECT_NE(std::string(fin.message()).find("in this run"), std::string::npos) << fin;
  EXPECT_FALSE(std::filesystem::exists(p));
}

TEST(RunJournal, JournalOfAnotherFormatVersionIsRefused) {
  const auto dir = testing::ScratchDir("run_journal_version");
  const std::string p = (dir / "r.h5").string();
  std::ofstream(p + ".journal", std::ios::binary) << "QSWJRNL1" << std::string(40, 'x');
  auto j = RunJournal::OpenOrCreate(p, Header());
  ASSERT_FALSE(j.ok());
  EXPECT_NE(std::string(j.status().message()).find("a journal of another qsweep version"), std::string::npos)
      << j.status();
  EXPECT_EQ(std::filesystem::file_size(p + ".journal"), 48u);  // left alone
}

// A header of a layout; `world` is display text only and nothing reads it.
RunHeader OnLayout(int64_t ranks, int64_t replicas, int64_t tp, BackendKind backend, Reduction reduction) {
  RunHeader h = Header();
  h.ranks = ranks;
  h.replicas = replicas;
  h.tp = tp;
  h.backend = backend;
  h.reduction = reduction;
  h.world = "not read";
  return h;
}

TEST(RunJournal, AFastReductionResumesOnlyOnItsOwnLayout) {
  using enum BackendKind;
  using enum Reduction;
  const auto dir = testing::ScratchDir("run_journal_fast");
  const std::string p = (dir / "r.h5").string(), q = (dir / "q.h5").string();
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, OnLayout(1, 1, 1, kCuda, kFast)).ok());
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, OnLayout(2, 2, 1, kCuda, kFast)).ok());  // more replicas, same tp
  auto a = RunJournal::OpenOrCreate(p, OnLayout(2, 1, 2, kCuda, kFast));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(std::string(a.status().message()).find("tp 1, not 2 (a fast reduction's results depend on it)"),
            std::string::npos)
      << a.status();
  auto b = RunJournal::OpenOrCreate(p, OnLayout(1, 1, 1, kCpu, kFast));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("backend cuda, not cpu"), std::string::npos) << b.status();
  auto c = RunJournal::OpenOrCreate(p, OnLayout(1, 1, 1, kCuda, kTpInvariant));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("reduction fast, not tp_invariant"), std::string::npos)
      << c.status();
  // A tp-invariant run resumes at any layout.
  ASSERT_TRUE(RunJournal::OpenOrCreate(q, OnLayout(1, 1, 1, kCuda, kTpInvariant)).ok());
  EXPECT_TRUE(RunJournal::OpenOrCreate(q, OnLayout(4, 2, 2, kCuda, kTpInvariant)).ok());
  EXPECT_FALSE(RunJournal::OpenOrCreate(q, OnLayout(4, 2, 2, kCuda, kFast)).ok());
}

// Run files of before the checksummed format (HDF5 superblock 0; these two
// also of before the typed layout attributes, written by that qsweep,
// tests/data/runs): refused with one error naming the file and why, before
// libhdf5 parses them (a fuzzed one crashed it in its global heap).
TEST(RunFile, FilesWithoutMetadataChecksumsAreRefused) {
  for (const char* name : {"runs/schema1_bf16_2ranks.h5", "runs/schema1_w4_tp2_fast.h5"}) {
    const std::string path = testing::RepoTestData(name).string();
    auto run = ReadRunFile(path);
    ASSERT_FALSE(run.ok()) << name;
    EXPECT_NE(run.status().message().find(path + ": HDF5 superblock version 0: a file without metadata checksums"),
              std::string::npos)
        << run.status();
    EXPECT_FALSE(ReadMetricsFile(path).ok());
    EXPECT_FALSE(ReadRequestFile(path).ok());
  }
  // The checksummed format is read.
  EXPECT_TRUE(ReadRunFile(testing::RepoTestData("runs/baseline_bf16_hidden.h5").string(), true).ok());
}

// The typed attributes are the layout: present, they are read and `world`
// is not; a wrong one is an error naming it.
TEST(RunFile, LayoutAttributesAreTypedAndChecked) {
  const auto dir = testing::ScratchDir("run_file_layout");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const std::string p = (dir / "r.h5").string();
  const RunHeader h = OnLayout(4, 2, 2, BackendKind::kCuda, Reduction::kFast);
  WriteWholeRun(p, rs, units, h);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  ExpectSameHeaders(run->header, h);
  if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") == 0) {
    const std::string script = "/usr/bin/python3 -c \"import h5py,numpy as np; a=h5py.File('" + p +
                               "','r').attrs; assert a['backend']==b'cuda' and a['reduction']==b'fast';"
                               " assert all(isinstance(a[k], np.int64) for k in ('ranks','replicas','tp'));"
                               " assert (a['ranks'], a['replicas'], a['tp'])==(4, 2, 2)\"";
    EXPECT_EQ(std::system(script.c_str()), 0) << script;
  }
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetStringAttr("/", "backend", "tpu"));
  }
  auto bad = ReadRunFile(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("attribute backend is 'tpu', not cpu or cuda"),
            std::string::npos)
      << bad.status();
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetStringAttr("/", "backend", "cuda"));
    ASSERT_TRUE(e.DeleteAttr("/", "tp"));
  }
  auto partial = ReadRunFile(p);  // a file with the typed layout needs all of it
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(std::string(partial.status().message()).find("tp"), std::string::npos) << partial.status();
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetIntAttr("/", "tp", 2));
    ASSERT_TRUE(e.DeleteAttr("/", "backend"));  // as a file of before the typed layout, with an odd world
  }
  auto old = ReadRunFile(p);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(std::string(old.status().message()).find("its world 'not read' does not give the layout"),
            std::string::npos)
      << old.status();
}

TEST(RunJournal, OtherModelOrRequestsAreRefused) {
  const auto dir = testing::ScratchDir("run_journal_model");
  const std::string p = (dir / "r.h5").string();
  ASSERT_TRUE(RunJournal::OpenOrCreate(p, Header()).ok());
  RunHeader other = Header();
  other.model_id = "def";
  auto a = RunJournal::OpenOrCreate(p, other);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(std::string(a.status().message()).find("model_id abc, not def (another checkpoint)"),
            std::string::npos) << a.status();
  other = Header();
  other.requests_id = "0123";
  auto b = RunJournal::OpenOrCreate(p, other);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("another task set or tokenization"), std::string::npos);
  other = Header();
  other.topk = 8;
  EXPECT_FALSE(RunJournal::OpenOrCreate(p, other).ok());
  // The same run is welcome, and keeps its first start's creation time.
  RunHeader again = Header();
  again.created = "2030-01-01T00:00:00Z";
  auto c = RunJournal::OpenOrCreate(p, again);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->header().created, Header().created);
}

TEST(RunFile, IncompleteForeignOrDamagedFilesAreRefused) {
  const auto dir = testing::ScratchDir("run_file_bad");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const std::string p = (dir / "r.h5").string();
  auto expect_error = [&](const std::string& needle) {
    auto r = ReadRunFile(p);
    ASSERT_FALSE(r.ok());
    const std::string msg(r.status().message());
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  WriteWholeRun(p, rs, units, Header());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.DeleteAttr("/", "complete"));
  }
  expect_error("not a complete run file");
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetIntAttr("/", "complete", 0));
  }
  expect_error("not a complete run file");
  WriteWholeRun(p, rs, units, Header());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.SetIntAttr("/", "schema_version", 2));
  }
  expect_error("run file schema version 2; this qsweep reads version 1");
  WriteWholeRun(p, rs, units, Header());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.Replace("/tasks/zeta/label", std::vector<int32_t>{1, 2, 3}));
  }
  expect_error("/tasks/zeta: datasets of different lengths");
  ASSERT_TRUE(WriteRequestFile(p, rs).ok());  // a request file is not a run file
  expect_error("missing attribute");
  std::ofstream(p, std::ios::trunc) << "plain text";
  expect_error("not an HDF5 file");
  WriteWholeRun(p, rs, units, Header());
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 3);
  expect_error(p);
}

// A value changed in place (the bytes of one choice log-likelihood, as an
// editor or a bit flip would), and a damaged byte of any object header: an
// error on reading, never a file that reads with other values.
TEST(RunFile, AValueChangedInPlaceIsAnErrorNotOtherMetrics) {
  const auto dir = testing::ScratchDir("run_file_changed_value");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const std::string p = (dir / "r.h5").string();
  WriteWholeRun(p, rs, units, Header());
  ASSERT_TRUE(ReadRunFile(p).ok());
  // Where the first chunk of /tasks/alpha/choice_logprob sits in the file.
  haddr_t addr = 0;
  hsize_t chunk_bytes = 0;
  {
    const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(f, "/tasks/alpha/choice_logprob", H5P_DEFAULT);
    hsize_t offset[2];
    unsigned mask = 0;
    const hid_t space = H5Dget_space(ds);
    ASSERT_GE(H5Dget_chunk_info(ds, space, 0, offset, &mask, &addr, &chunk_bytes), 0);
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(f);
  }
  ASSERT_GT(chunk_bytes, 16u);
  std::vector<char> bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto with = [&](size_t at, char x, const std::string& name) {
    std::vector<char> b = bytes;
    b[at] ^= x;
    const std::string q = (dir / name).string();
    std::ofstream(q, std::ios::binary).write(b.data(), b.size());
    return q;
  };
  // One mantissa bit of one value.
  auto changed = ReadRunFile(with(addr + 3, 0x01, "value.h5"));
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.status().message().find("choice_logprob"), std::string::npos) << changed.status();
  // Every byte of the metadata before the first chunk (superblock, object
  // headers, attributes): refused or read back equal, never different.
  const RunData want = *ReadRunFile(p);
  int refused = 0;
  for (size_t at = 0; at < std::min<size_t>(addr, 4096); at += 7) {
    auto r = ReadRunFile(with(at, 0x10, "meta.h5"));
    if (!r.ok()) {
      ++refused;
      continue;
    }
    ASSERT_EQ(r->tasks.size(), want.tasks.size()) << at;
    EXPECT_EQ(r->tasks[0].second.choice_logprob.size(), want.tasks[0].second.choice_logprob.size()) << at;
    EXPECT_EQ(r->header.model_id, want.header.model_id) << at;
  }
  EXPECT_GT(refused, 0);
}

// Debian's h5py reads what we wrote: shapes, dtypes, attributes and values.
TEST(RunFile, H5pyReadsTheValues) {
  if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) GTEST_SKIP() << "python3-h5py missing";
  const auto dir = testing::ScratchDir("run_file_h5py_values");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {});
  const RunHeader h = Header();
  const std::string p = (dir / "r.h5").string();
  WriteWholeRun(p, rs, units, h);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok());
  const std::string cmd =
      "/usr/bin/python3 -c \"import h5py,numpy as np; f=h5py.File('" + p + "','r'); t=f['tasks/alpha'];"
      " print(int(t['label'][:].sum()), int(t['choice_tokens'][:].sum()), int(np.isnan(t['choice_logprob'][:]).sum()),"
      " repr(float(np.nansum(t['choice_logprob'][:]))), f['ppl/text/topk_id'].shape[1], f['ppl/text/logprob'].compression,"
      " repr(float(f['ppl/text/nll'][:].astype(np.float64).sum())), int(f['ppl/text/logprob'][:].view(np.uint16).astype(np.int64).sum()),"
      " f.attrs['model_id'].decode(), int(f.attrs['complete']))\"";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[512] = {0};
  const size_t n = fread(buf, 1, sizeof buf - 1, pipe);
  ASSERT_EQ(pclose(pipe), 0) << cmd;
  const std::string got(buf, n);
  const ChoiceRows& a = run->tasks[1].second;
  int64_t label_sum = 0, tok_sum = 0, nans = 0;
  double lp_sum = 0;
  for (int32_t l : a.label) label_sum += l;
  for (int32_t t : a.choice_tokens) tok_sum += t;
  for (double v : a.choice_logprob) std::isnan(v) ? ++nans : (lp_sum += v, 0);
  const TokenRows& c = run->corpora[0].second;
  double nll_sum = 0;
  int64_t f16_sum = 0;
  for (float v : c.nll) nll_sum += v;
  for (uint16_t v : c.logprob_f16) f16_sum += v;
  ASSERT_GT(nans, 0);  // padding is there to be checked
  // Python prints the shortest round-tripping form; compare as numbers.
  std::istringstream in(got);
  int64_t g_label, g_tok, g_nans, g_k, g_f16, g_complete;
  double g_lp, g_nll;
  std::string g_comp, g_model;
  in >> g_label >> g_tok >> g_nans >> g_lp >> g_k >> g_comp >> g_nll >> g_f16 >> g_model >> g_complete;
  EXPECT_EQ(g_label, label_sum) << got;
  EXPECT_EQ(g_tok, tok_sum) << got;
  EXPECT_EQ(g_nans, nans) << got;
  EXPECT_NEAR(g_lp, lp_sum, 1e-9 * std::abs(lp_sum)) << got;
  EXPECT_EQ(g_k, 4) << got;
  EXPECT_EQ(g_comp, "gzip") << got;
  EXPECT_NEAR(g_nll, nll_sum, 1e-6 * std::abs(nll_sum)) << got;
  EXPECT_EQ(g_f16, f16_sum) << got;
  EXPECT_EQ(g_model, "abc") << got;
  EXPECT_EQ(g_complete, 1) << got;
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

// Every file in tests/data/fuzz/<target>: inputs a fuzz target found
// crashing a reader, each now a clean error.
std::vector<std::string> FuzzFindings(const std::string& target) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(testing::RepoTestData("fuzz/" + target)))
    files.push_back(e.path().string());
  return files;
}

// A journal whose checksummed header record does not decode: an error
// naming the journal, not an abort.
TEST(FuzzFindings, AJournalWhoseRecordsDoNotDecodeIsAnError) {
  const auto files = FuzzFindings("journal");
  ASSERT_FALSE(files.empty());
  const std::string run = ::testing::TempDir() + "/fuzz_journal_run.h5";
  for (const std::string& f : files) {
    std::filesystem::copy_file(f, run + ".journal", std::filesystem::copy_options::overwrite_existing);
    auto j = RunJournal::OpenOrCreate(run, RunHeader{});
    ASSERT_FALSE(j.ok()) << f;
    EXPECT_NE(std::string(j.status().message()).find(run + ".journal"), std::string::npos) << j.status();
    std::filesystem::remove(run + ".journal");
  }
}

// A baseline that kept bf16 hidden states and a candidate paired with it:
// both round-trip, the hidden states exactly; the candidate's reader serves
// row ranges of the baseline's and refuses every baseline it must not use.
class BaselineRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs them in parallel.
    dir_ = testing::ScratchDir(std::string("baseline_run_") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    rs_ = RandomRequests(3);
    units_ = PlanWorkUnits(rs_, {.samples_per_unit = 3, .windows_per_unit = 2});
    base_ = Header();
    base_.scheme = "bf16";
    base_.backend = BackendKind::kCuda;
    base_.hidden_dtype = "bf16";
    base_.hidden_size = 6;
    path_ = (dir_ / "bf16.h5").string();
    Write(path_, base_);
    cand_ = Header();
    cand_.backend = BackendKind::kCuda;
  }

  void Write(const std::string& path, const RunHeader& h) {
    auto j = RunJournal::OpenOrCreate(path, h);
    ASSERT_TRUE(j.ok()) << j.status();
    for (const auto& u : units_) {
      const UnitResult r = FakeResult(rs_, u, h);
      if (const auto* t = std::get_if<TokenRows>(&r)) written_[u.source].push_back({u.first_row, *t});
      ASSERT_TRUE((*j)->Append(u, r).ok());
    }
    ASSERT_TRUE((*j)->Finalize(rs_, units_).ok());
  }

  std::filesystem::path dir_;
  RequestSet rs_;
  std::vector<WorkUnit> units_;
  RunHeader base_, cand_;
  std::string path_;
  std::map<int64_t, std::vector<std::pair<int64_t, TokenRows>>> written_;  // corpus -> (first row, rows)
};

TEST_F(BaselineRunTest, HiddenStatesRoundTripExactlyAndServeRowRanges) {
  auto full = ReadRunFile(path_, /*with_hidden=*/true);
  ASSERT_TRUE(full.ok()) << full.status();
  auto lean = ReadRunFile(path_);
  ASSERT_TRUE(lean.ok()) << lean.status();
  ASSERT_FALSE(full->corpora.empty());
  EXPECT_EQ(full->corpora[0].second.hidden_bf16, 6);
  EXPECT_EQ(lean->corpora[0].second.hidden_bf16, 0);
  EXPECT_TRUE(lean->corpora[0].second.final_hidden_bf16.empty());
  auto opened = OpenBaselineRun(path_, cand_, rs_, DType::kBF16);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->run_id, RunId(full->header));
  for (const auto& [corpus, units] : written_)
    for (const auto& [first, rows] : units) {
      auto got = opened->hidden->Rows(corpus, first, rows.tokens);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, rows.final_hidden_bf16);  // exact: every value is a bfloat16
      auto bits = opened->hidden->RowsBf16(corpus, first, rows.tokens);
      ASSERT_TRUE(bits.ok()) << bits.status();
      ASSERT_EQ(bits->size(), got->size());
      for (size_t i = 0; i < bits->size(); ++i) ASSERT_EQ((*bits)[i], FloatToBF16((*got)[i])) << i;
    }
  EXPECT_TRUE(opened->hidden->bf16());
  auto past = opened->hidden->Rows(0, rs_.corpora[0].scored_tokens() - 1, 2);
  EXPECT_FALSE(past.ok());
}

TEST_F(BaselineRunTest, APairedCandidateRoundTrips) {
  RunHeader c = cand_;
  c.baseline_run_id = "0123456789abcdef";
  const std::string p = (dir_ / "cand.h5").string();
  Write(p, c);
  auto run = ReadRunFile(p);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->header.baseline_run_id, c.baseline_run_id);
  const TokenRows& t = run->corpora[0].second;
  EXPECT_EQ(t.paired, 1);
  EXPECT_EQ(static_cast<int64_t>(t.kl_base_cand.size()), t.tokens);
  EXPECT_EQ(static_cast<int64_t>(t.base_top1.size()), t.tokens);
}

TEST_F(BaselineRunTest, RefusesEveryBaselineItMustNotUse) {
  auto refused = [&](const std::string& path, const RunHeader& cand, DType type, const std::string& why) {
    auto opened = OpenBaselineRun(path, cand, rs_, type);
    ASSERT_FALSE(opened.ok()) << why;
    EXPECT_NE(opened.status().message().find(why), std::string::npos) << opened.status();
    EXPECT_NE(opened.status().message().find(path), std::string::npos) << opened.status();
  };
  refused((dir_ / "none.h5").string(), cand_, DType::kBF16, "missing");
  RunHeader other = cand_;
  other.model_id = "another";
  refused(path_, other, DType::kBF16, "another model");
  other = cand_;
  other.requests_id = "other";
  refused(path_, other, DType::kBF16, "other requests");
  other = cand_;
  other.backend = BackendKind::kCpu;
  refused(path_, other, DType::kBF16, "backend");
  refused(path_, cand_, DType::kF32, "precision");
  // A baseline that kept nothing.
  RunHeader plain = base_;
  plain.hidden_dtype = "";
  plain.hidden_size = 0;
  const std::string plain_path = (dir_ / "plain.h5").string();
  Write(plain_path, plain);
  refused(plain_path, cand_, DType::kBF16, "no final hidden states");
  // Truncated: not a readable HDF5 file any more.
  const std::string cut = (dir_ / "cut.h5").string();
  std::filesystem::copy_file(path_, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  refused(cut, cand_, DType::kBF16, "baseline run");
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

// A request file's generative samples that do not decode, or decode to
// impossible values, are refused naming the group; a run file's generation
// rows with impossible values likewise.
TEST(RequestFile, DamagedGenerativeSamplesAreRefused) {
  const auto dir = testing::ScratchDir("request_file_gen_bad");
  const std::string p = (dir / "r.h5").string();
  ASSERT_TRUE(WriteRequestFile(p, RandomRequests(3)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(e.Replace("/generate/story/samples", std::vector<uint8_t>{9, 0, 0, 0, 0, 0, 0, 0, 1, 2}));
  }
  auto back = ReadRequestFile(p);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("/generate/story"), std::string::npos) << back.status();
  ASSERT_TRUE(WriteRequestFile(p, RandomRequests(3)).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.Replace("/generate/story/prompt_offsets", std::vector<int64_t>{0, 5, 3}));
  }
  back = ReadRequestFile(p);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("prompt offsets"), std::string::npos) << back.status();
}

TEST(RunFile, ImpossibleGenerationRowsAreRefused) {
  const auto dir = testing::ScratchDir("run_file_gen_bad");
  const RequestSet rs = RandomRequests(2);
  const auto units = PlanWorkUnits(rs, {.samples_per_unit = 4, .windows_per_unit = 3});
  const std::string p = (dir / "r.h5").string();
  WriteWholeRun(p, rs, units, Header());
  ASSERT_TRUE(ReadRunFile(p).ok());
  {
    testing::H5Editor e(p);
    ASSERT_TRUE(e.Replace("/generate/story/n_tokens", std::vector<int32_t>(9, 1000)));
  }
  auto run = ReadRunFile(p);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("/generate/story: sample 0 holds impossible values"), std::string::npos)
      << run.status();
}

}  // namespace
}  // namespace qsweep
