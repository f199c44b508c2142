#include "eval/task_file.h"

#include <fstream>

#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  const auto p = testing::ScratchDir("task_file_" + name) / (name + ".jsonl");
  std::ofstream(p) << text;
  return p.string();
}

TEST(TaskJsonl, ReadsAndRoundTrips) {
  const std::string p = Write("ok",
                              R"({"id": "a", "context": "2+2=", "choices": ["4", "5"], "label": 0}
{"id": 7, "contexts": ["The cat", "The dog"], "choices": [" sat", " sat"], "label": 1}
{"id": "c", "context": "Q?", "choices": ["yes", "no"], "label": 1, "target_delimiter": " "}
)");
  auto t = ReadTaskJsonl(p, "mix");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->samples.size(), 3u);
  EXPECT_EQ(t->samples[1].id, "7");
  EXPECT_EQ(t->samples[1].contexts.size(), 2u);
  EXPECT_EQ(t->samples[2].continuations, (std::vector<std::string>{" yes", " no"}));
  const std::string back = Write("back", "");
  ASSERT_TRUE(WriteTaskJsonl(back, *t).ok());
  auto again = ReadTaskJsonl(back, "mix");
  ASSERT_TRUE(again.ok()) << again.status();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(again->samples[i].contexts, t->samples[i].contexts);
    EXPECT_EQ(again->samples[i].continuations, t->samples[i].continuations);
    EXPECT_EQ(again->samples[i].label, t->samples[i].label);
  }
}

TEST(TaskJsonl, BadInputsNameFileAndLine) {
  const std::string ok = R"({"id": "a", "context": "x", "choices": ["1", "2"], "label": 0})";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"id": "b", "context": "x", "choices": ["1", "2"], "label": 2})", ":2: label 2 out of range [0, 2)"},
      {R"({"id": "b", "context": "x", "choices": [], "label": 0})", ":2: \"choices\" is empty"},
      {R"({"id": "b", "context": "x", "choices": ["1", ""], "label": 0})", ":2: an empty choice"},
      {R"({"id": "b", "context": "x", "choices": ["1"], "label": 0)", ":2: invalid JSON"},
      {R"({"id": "a", "context": "x", "choices": ["1"], "label": 0})", ":2: duplicate id 'a'"},
      {R"({"id": "b", "contexts": ["x"], "choices": ["1", "2"], "label": 0})", ":2: \"contexts\" must list one string per choice"},
      {R"({"id": "b", "context": "x", "choices": ["1"]})", ":2: \"label\" missing"},
  };
  int i = 0;
  for (const auto& [line, want] : cases) {
    const std::string p = Write("bad" + std::to_string(i++), ok + "\n" + line + "\n");
    auto t = ReadTaskJsonl(p, "t");
    ASSERT_FALSE(t.ok()) << line;
    EXPECT_NE(t.status().message().find(p + want), std::string::npos) << t.status();
  }
  EXPECT_FALSE(ReadTaskJsonl(Write("empty", "\n"), "t").ok());
  EXPECT_FALSE(ReadTaskJsonl("/no/such/file.jsonl", "t").ok());
}

TEST(TaskJsonl, ReadsTheQuickstartTasks) {
  for (const char* name : {"add", "recall", "reverse", "max"}) {
    auto t = ReadTaskJsonl(testing::RepoTestData(std::string("tiny/tasks/") + name + ".jsonl").string(), name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->samples.size(), 150u);
  }
}

}  // namespace
}  // namespace qsweep
