#include "eval/tasks/task.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep::tasks {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string WriteFile(const std::string& test, const std::string& text) {
  const auto path = (qsweep::testing::ScratchDir("eval_tasks_" + test) / "task.jsonl").string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The error ReadTaskJsonl gives for `text`, with the file's path shown as
// "F"; fails the test if the text is accepted.
std::string ReadError(const std::string& test, const std::string& text) {
  const std::string path = WriteFile(test, text);
  auto task = ReadTaskJsonl(path, "t");
  EXPECT_FALSE(task.ok()) << "accepted: " << text;
  if (task.ok()) return "";
  std::string message(task.status().message());
  EXPECT_EQ(message.substr(0, path.size()), path) << "the error must start with the file";
  return message.substr(0, path.size()) == path ? "F" + message.substr(path.size()) : message;
}

TEST(TaskJsonl, ReadsFieldsDelimiterAndPerChoiceContexts) {
  const std::string path = WriteFile("read",
      "{\"id\": \"q1\", \"context\": \"The capital of France is\", \"choices\": [\"Paris\", \"Rome\"], "
      "\"label\": 0, \"target_delimiter\": \" \"}\n"
      "\n"
      "{\"id\": 7, \"contexts\": [\"A cat\", \"A dog\"], \"choices\": [\" barks.\", \" barks!\"], \"label\": 1,"
      " \"extra\": \"ignored\"}\n");
  auto task = ReadTaskJsonl(path, "capitals");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->name, "capitals");
  ASSERT_EQ(task->samples.size(), 2u);
  EXPECT_EQ(task->samples[0].id, "q1");
  EXPECT_EQ(task->samples[0].contexts, std::vector<std::string>{"The capital of France is"});
  EXPECT_EQ(task->samples[0].continuations, (std::vector<std::string>{" Paris", " Rome"}));
  EXPECT_EQ(task->samples[0].label, 0);
  EXPECT_EQ(task->samples[0].target_delimiter, " ");
  EXPECT_EQ(task->samples[1].target_delimiter, "");
  EXPECT_EQ(task->samples[1].id, "7");
  EXPECT_EQ(task->samples[1].contexts, (std::vector<std::string>{"A cat", "A dog"}));
  EXPECT_EQ(task->samples[1].continuations, (std::vector<std::string>{" barks.", " barks!"}));
  EXPECT_EQ(task->samples[1].label, 1);
}

TEST(TaskJsonl, RoundTrip) {
  McTask task{"rt", {}};
  task.samples.push_back({"a", {"Question: 2+2?\nAnswer:"}, {" 4", " 5", " \"22\""}, 0, ""});
  task.samples.push_back({"b\tü", {"x _", "y _"}, {" tail", " tail"}, 1, ""});
  task.samples.push_back({"c", {"ctx with trailing space "}, {"\n", "é", "🙂"}, 2, ""});
  task.samples.push_back({"d", {"Q:"}, {"\n\n yes", "\n\n no"}, 1, "\n\n"});
  const auto path = (qsweep::testing::ScratchDir("eval_tasks_roundtrip") / "rt.jsonl").string();
  ASSERT_TRUE(WriteTaskJsonl(path, task).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto back = ReadTaskJsonl(path, "rt");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, task);
}

TEST(TaskJsonl, WriterRefusesWhatWouldNotReadBack) {
  const auto path = (qsweep::testing::ScratchDir("eval_tasks_refuse") / "t.jsonl").string();
  McTask task{"t", {{"a", {"c"}, {" x"}, 1, ""}}};
  absl::Status s = WriteTaskJsonl(path, task);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sample 0 (id \"a\"): label 1 out of range 0..0"));
  task.samples[0] = {"a", {"c1", "c2", "c3"}, {" x", " y"}, 0, ""};
  EXPECT_THAT(std::string(WriteTaskJsonl(path, task).message()), HasSubstr("3 contexts for 2 continuations"));
  task.samples = {{"a", {"c"}, {" x"}, 0, ""}, {"a", {"c"}, {" x"}, 0, ""}};
  EXPECT_THAT(std::string(WriteTaskJsonl(path, task).message()), HasSubstr("duplicate id"));
  task.samples = {{"a", {"c"}, {"bad \xff"}, 0, ""}};
  EXPECT_THAT(std::string(WriteTaskJsonl(path, task).message()), HasSubstr("cannot be written as JSON"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TaskJsonl, WrittenChoicesLeaveTheDelimiterOut) {
  McTask task{"w", {{"a", {"Q:"}, {" yes", " no"}, 0, " "}}};
  const auto path = (qsweep::testing::ScratchDir("eval_tasks_written") / "w.jsonl").string();
  ASSERT_TRUE(WriteTaskJsonl(path, task).ok());
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, R"({"id":"a","context":"Q:","choices":["yes","no"],"label":0,"target_delimiter":" "})");
  task.samples[0].continuations[1] = "no";  // does not start with the delimiter
  EXPECT_THAT(std::string(WriteTaskJsonl(path, task).message()),
              HasSubstr("continuation \"no\" is not the target delimiter \" \" followed by a choice"));
}

TEST(ChoiceLength, CodePointsWithoutTheDelimiter) {
  // lm-eval: len("Paris") == 5, len("café") == 4, len("🙂") == 1.
  const McSample s{"a", {"c"}, {" Paris", " caf\xc3\xa9", " \xf0\x9f\x99\x82"}, 0, " "};
  EXPECT_EQ(ChoiceLength(s, 0), 5);
  EXPECT_EQ(ChoiceLength(s, 1), 4);
  EXPECT_EQ(ChoiceLength(s, 2), 1);
  const McSample raw{"b", {"c"}, {" Paris"}, 0, ""};
  EXPECT_EQ(ChoiceLength(raw, 0), 6);
}

TEST(TaskJsonl, InvalidJsonNamesFileLineAndReason) {
  const std::string e = ReadError("badjson",
      "{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n"
      "{\"id\": 2, \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0,}\n");
  EXPECT_THAT(e, StartsWith("F:2: invalid JSON: column"));
  EXPECT_THAT(e, HasSubstr("syntax error"));
}

TEST(TaskJsonl, NotAnObject) {
  EXPECT_EQ(ReadError("array", "[1, 2]\n"), "F:1: expected a JSON object, got array");
}

TEST(TaskJsonl, MissingAndIllTypedFields) {
  const std::string ok_rest = "\"choices\": [\"a\", \"b\"], \"label\": 0";
  struct Case {
    std::string line, message;
  };
  const std::vector<Case> cases = {
      {"{\"context\": \"c\", " + ok_rest + "}", "\"id\" is missing"},
      {"{\"id\": 1.5, \"context\": \"c\", " + ok_rest + "}", "\"id\" must be a string or an integer, got number"},
      {"{\"id\": \"\", \"context\": \"c\", " + ok_rest + "}", "\"id\" is empty"},
      {"{\"id\": 1, " + ok_rest + "}", "\"context\" is missing (or \"contexts\", one per choice)"},
      {"{\"id\": 1, \"context\": 3, " + ok_rest + "}", "\"context\" must be a string, got number"},
      {"{\"id\": 1, \"context\": \"c\", \"contexts\": [\"c\", \"d\"], " + ok_rest + "}",
       "give \"context\" or \"contexts\", not both"},
      {"{\"id\": 1, \"context\": \"c\", \"label\": 0}", "\"choices\" is missing"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": \"a\", \"label\": 0}",
       "\"choices\" must be a list of strings, got string"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", 2], \"label\": 0}",
       "\"choices\"[1] must be a string, got number"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"b\"]}", "\"label\" is missing"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": \"0\"}",
       "\"label\" must be an integer, got string"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": 1.0}",
       "\"label\" must be an integer, got a fraction"},
      {"{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0, \"target_delimiter\": 1}",
       "\"target_delimiter\" must be a string, got number"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    // The bad row on line 2 after a good one: the line number must be right.
    const std::string e = ReadError("fields" + std::to_string(i),
                                    "{\"id\": \"ok\", \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n" +
                                        cases[i].line + "\n");
    EXPECT_EQ(e, "F:2: " + cases[i].message) << cases[i].line;
  }
}

TEST(TaskJsonl, EmptyChoicesAndEmptyChoice) {
  EXPECT_EQ(ReadError("nochoices", "{\"id\": 1, \"context\": \"c\", \"choices\": [], \"label\": 0}\n"),
            "F:1: \"choices\" is empty");
  EXPECT_EQ(ReadError("emptychoice", "{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"\"], \"label\": 0}\n"),
            "F:1: \"choices\"[1] is an empty string");
}

TEST(TaskJsonl, LabelOutOfRangeSaysTheRange) {
  EXPECT_EQ(ReadError("label4", "{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"b\", \"c\"], \"label\": 3}\n"),
            "F:1: label 3 out of range: 3 choices, so 0..2");
  EXPECT_EQ(ReadError("labelneg", "\n\n{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": -1}\n"),
            "F:3: label -1 out of range: 2 choices, so 0..1");
}

TEST(TaskJsonl, DuplicateIdsNameBothLines) {
  EXPECT_EQ(ReadError("dup",
                      "{\"id\": 5, \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n"
                      "{\"id\": \"x\", \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n"
                      "{\"id\": \"5\", \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n"),
            "F:3: duplicate id \"5\" (first on line 1)");
}

TEST(TaskJsonl, ContextsCountMustMatchChoices) {
  EXPECT_EQ(ReadError("contexts", "{\"id\": 1, \"contexts\": [\"a\", \"b\", \"c\"], \"choices\": [\"x\", \"y\"], \"label\": 0}\n"),
            "F:1: \"contexts\" has 3 entries but \"choices\" has 2 (one context per choice)");
  // One entry is not a shared context: "contexts" is always one per choice.
  EXPECT_EQ(ReadError("contexts1", "{\"id\": 1, \"contexts\": [\"a\"], \"choices\": [\"x\", \"y\"], \"label\": 0}\n"),
            "F:1: \"contexts\" has 1 entries but \"choices\" has 2 (one context per choice)");
}

TEST(TaskJsonl, EmptyAndMissingFiles) {
  EXPECT_EQ(ReadError("empty", ""), "F: empty file (no JSON objects)");
  EXPECT_EQ(ReadError("blank", "\n  \n\r\n"), "F: empty file (no JSON objects)");
  auto missing = ReadTaskJsonl("/nonexistent/x.jsonl", "t");
  EXPECT_EQ(missing.status().message(), "/nonexistent/x.jsonl: cannot open the file");
}

TEST(TaskJsonl, CrlfLinesAreRead) {
  const std::string path = WriteFile("crlf", "{\"id\": 1, \"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\r\n");
  auto task = ReadTaskJsonl(path, "t");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->samples[0].contexts[0], "c");
}

// The repository's own tasks (tests/data/tiny/tasks), which the quickstart
// and the end-to-end tests prepare.
TEST(TaskJsonl, ReadsTheQuickstartTasks) {
  for (const std::string name : {"add", "recall", "reverse", "max"}) {
    auto task = ReadTaskJsonl(qsweep::testing::RepoTestData("tiny/tasks/" + name + ".jsonl").string(), name);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ(task->samples.size(), 150u) << name;
    EXPECT_TRUE(ValidateTask(*task).ok()) << name;
  }
}

TEST(TextCorpus, VerbatimAndErrors) {
  const std::string text = " = Valkyria Chronicles III = \n\n Senjō no Valkyria 3 : <unk> Chronicles\r\n";
  const std::string path = WriteFile("corpus", text);
  auto read = ReadTextCorpus(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, text);
  EXPECT_EQ(ReadTextCorpus(WriteFile("corpus_empty", "")).status().message(),
            WriteFile("corpus_empty", "") + ": empty text corpus");
  EXPECT_EQ(ReadTextCorpus("/nonexistent/wiki.txt").status().message(),
            "/nonexistent/wiki.txt: cannot open the text corpus");
  const std::string bad = WriteFile("corpus_bad", "line one\nline two \xc3\x28\n");
  EXPECT_EQ(ReadTextCorpus(bad).status().message(), bad + ":2: not UTF-8 (byte 0xc3 at offset 18)");
  // Overlong encoding of '/' and a UTF-16 surrogate are not UTF-8 either.
  EXPECT_FALSE(ReadTextCorpus(WriteFile("corpus_overlong", "\xc0\xaf")).ok());
  EXPECT_FALSE(ReadTextCorpus(WriteFile("corpus_surrogate", "\xed\xa0\x80")).ok());
  EXPECT_TRUE(ReadTextCorpus(WriteFile("corpus_4byte", "\xf0\x9f\x99\x82")).ok());
}

}  // namespace
}  // namespace qsweep::tasks
