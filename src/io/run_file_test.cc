#include "io/run_file.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

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
  const auto& corpus = rs.corpora[u.source];
  const auto windows = PplWindows(static_cast<int64_t>(corpus.tokens.size()), corpus.window, corpus.stride);
  TokenRows t;
  t.topk = static_cast<int>(h.topk);
  t.vocab = h.full_logprobs ? h.vocab_size : 0;
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

std::vector<uint8_t> FileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
      if (!(*j)->done().count(u.id)) ASSERT_TRUE((*j)->Append(u, FakeResult(rs, u, h)).ok());
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
                             "','r'); assert f.attrs['complete']==1; assert f.attrs['scheme']=='w4a16-g128';"
                             " t=f['tasks/zeta']; assert t['choice_logprob'].shape==(23,4), t['choice_logprob'].shape;"
                             " lp=f['ppl/text/logprob']; assert lp.dtype==np.float16 and lp.shape==(299,16);"
                             " assert list(f['tasks'].keys())==['zeta','alpha'] or set(f['tasks'].keys())=={'zeta','alpha'}\"";
  EXPECT_EQ(std::system(script.c_str()), 0) << script;
  EXPECT_EQ(std::system(("h5dump -H " + p + " > /dev/null").c_str()), 0);
}

}  // namespace
}  // namespace qsweep
