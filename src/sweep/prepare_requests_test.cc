// Preparing a sweep's requests with a tokenizer that is not the model's
// (ids past its vocabulary) is one error naming the sample, the model and
// the tokenizer, and writes no request file; a run refuses such a request
// file too (CheckTokenIds).
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "eval/requests.h"
#include "sweep/sweep_config.h"
#include "sweep/sweep_run.h"
#include "test_paths.h"

namespace qsweep {
namespace {

TEST(PrepareRequests, ATokenizerWhoseIdsPassTheModelsVocabularyIsRefused) {
  const std::filesystem::path out = testing::ScratchDir("prepare_vocab");
  const std::string yaml = "name: vocab\n"
                           "model: synthetic:tiny-llama3\n"  // 1024 ids
                           "tokenizer: " + testing::RepoTestData("tokenizers/bpe_llama3/tokenizer.json").string() +
                           "\nbaseline: bf16\nschemes: [w4a16-g128]\ntasks:\n"
                           "  - {name: add, path: " + testing::RepoTestData("tiny/tasks/add.jsonl").string() +
                           ", limit: 5}\noutput: " + out.string() + "\n";
  auto c = ParseSweepConfig(yaml, "vocab.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const absl::Status s = PrepareRequests(*c);
  ASSERT_FALSE(s.ok());
  const std::string m(s.message());
  EXPECT_NE(m.find("task 'add' sample"), std::string::npos) << m;
  EXPECT_NE(m.find("outside the vocabulary of synthetic:tiny-llama3 (1024 ids)"), std::string::npos) << m;
  EXPECT_NE(m.find("bpe_llama3"), std::string::npos) << m;
  EXPECT_FALSE(std::filesystem::exists(c->RequestsPath()));
}

TEST(PrepareRequests, TokenIdsAreCheckedInEveryKindOfRequest) {
  RequestSet r;
  r.tokenizer = "tok.json";
  r.tasks.push_back({.name = "mc", .samples = {{.sample_id = 7, .contexts = {{1, 2}}, .continuations = {{3}, {4}}, .continuation_bytes = {1, 1}}}});
  r.corpora.push_back({.name = "text", .tokens = {0, 5, 9}});
  EXPECT_TRUE(CheckTokenIds(r, 10, "m").ok());
  for (int where = 0; where < 3; ++where) {
    RequestSet bad = r;
    if (where == 0) bad.tasks[0].samples[0].contexts[0][1] = 10;
    if (where == 1) bad.tasks[0].samples[0].continuations[1][0] = -1;
    if (where == 2) bad.corpora[0].tokens[2] = 12;
    const absl::Status s = CheckTokenIds(bad, 10, "m");
    ASSERT_FALSE(s.ok()) << where;
    EXPECT_NE(s.message().find(where == 2 ? "corpus 'text'" : "task 'mc' sample 7"), std::string::npos) << s;
    EXPECT_NE(s.message().find("tok.json"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace qsweep
