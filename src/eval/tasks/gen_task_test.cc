#include "eval/tasks/gen_task.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/tasks/gen_import.h"
#include "eval/tasks/gsm8k.h"
#include "test_paths.h"

namespace qsweep::tasks {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Strings = std::vector<std::string>;

std::string WriteFile(const std::string& test, const std::string& text) {
  const auto path = (qsweep::testing::ScratchDir("eval_gen_" + test) / "task.jsonl").string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The error ReadGenTaskJsonl gives for `text`, with the file's path shown as
// "F"; fails the test if the text is accepted.
std::string ReadError(const std::string& test, const std::string& text) {
  const std::string path = WriteFile(test, text);
  auto task = ReadGenTaskJsonl(path, "t");
  EXPECT_FALSE(task.ok()) << "accepted: " << text;
  if (task.ok()) return "";
  std::string message(task.status().message());
  EXPECT_EQ(message.substr(0, path.size()), path) << "the error must start with the file";
  return message.substr(0, path.size()) == path ? "F" + message.substr(path.size()) : message;
}

GenSample Exact(std::string id, Strings answers) {
  GenSample s;
  s.id = std::move(id);
  s.prompt = "p";
  s.answers = std::move(answers);
  return s;
}

GenSample Regex(std::string pattern, Strings answers, bool last = false) {
  GenSample s = Exact("r", std::move(answers));
  s.scorer.kind = AnswerScorer::Kind::kRegex;
  s.scorer.pattern = std::move(pattern);
  s.scorer.last_match = last;
  return s;
}

AnswerScore Score(const GenSample& s, std::string_view generation) {
  auto score = ScoreAnswer(s, generation);
  EXPECT_TRUE(score.ok()) << score.status();
  return score.ok() ? *score : AnswerScore{};
}

TEST(GenTaskJsonl, ReadsFieldsAndDefaults) {
  const std::string path = WriteFile("read",
      "{\"id\": \"add-0000\", \"prompt\": \"15+40=\", \"answers\": [\"55\"]}\n"
      "\n"
      "{\"id\": 7, \"prompt\": \"Question: q\\nAnswer:\", \"answers\": [\"72\", \"72.0\"], \"scorer\": \"regex\","
      " \"pattern\": \"#### (\\\\-?[0-9\\\\.\\\\,]+)\", \"select\": \"last\", \"stop\": [\"Question:\", \"\\n\\n\"],"
      " \"max_tokens\": 256, \"extra\": 1}\n"
      "{\"id\": \"e\", \"prompt\": \"x\", \"answers\": [\"y\"], \"scorer\": \"exact\"}\n");
  auto task = ReadGenTaskJsonl(path, "mixed");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->name, "mixed");
  ASSERT_EQ(task->samples.size(), 3u);
  const GenSample& a = task->samples[0];
  EXPECT_EQ(a.id, "add-0000");
  EXPECT_EQ(a.prompt, "15+40=");
  EXPECT_EQ(a.answers, Strings{"55"});
  EXPECT_EQ(a.scorer, AnswerScorer{});
  EXPECT_TRUE(a.stop.empty());
  EXPECT_EQ(a.max_tokens, 0);
  const GenSample& b = task->samples[1];
  EXPECT_EQ(b.id, "7");
  EXPECT_EQ(b.prompt, "Question: q\nAnswer:");
  EXPECT_EQ(b.answers, (Strings{"72", "72.0"}));
  EXPECT_EQ(b.scorer.kind, AnswerScorer::Kind::kRegex);
  EXPECT_EQ(b.scorer.pattern, R"(#### (\-?[0-9\.\,]+))");
  EXPECT_TRUE(b.scorer.last_match);
  EXPECT_EQ(b.stop, (Strings{"Question:", "\n\n"}));
  EXPECT_EQ(b.max_tokens, 256);
  EXPECT_EQ(task->samples[2].scorer.kind, AnswerScorer::Kind::kExact);
  EXPECT_TRUE(ValidateGenTask(*task).ok());
}

// A random string over an alphabet with JSON's troublemakers (quotes,
// backslashes, control characters) and multi-byte UTF-8; `word` adds a
// letter so that the string survives normalization.
std::string RandomText(std::mt19937& rng, bool word) {
  static const Strings alphabet = {"a", "Z", "7", " ", "\t", "\n", "\r\n", "\"", "\\", "/", ",", "$", ".", "{", "}",
                                   "é", "ß", "€", "数", "🙂", "\x01", "\x7f", "'", "#### "};
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1), len(0, 12);
  std::string s = word ? "w" : "";
  for (size_t n = len(rng); n > 0; --n) s += alphabet[pick(rng)];
  return s;
}

TEST(GenTaskJsonl, RandomizedRoundTrip) {
  std::mt19937 rng(77);
  std::uniform_int_distribution<int> small(0, 3), coin(0, 1), tokens(1, kMaxGenTokens);
  const Strings patterns = {R"(#### (\-?[0-9\.\,]+))", R"((\d+))", "answer is (.*)", "x*", R"((?i)é+|(\d))"};
  for (int round = 0; round < 20; ++round) {
    GenTask task{"rt" + std::to_string(round), {}};
    const int n = 1 + small(rng) * 5;
    for (int i = 0; i < n; ++i) {
      GenSample s;
      s.id = std::to_string(i) + RandomText(rng, false);
      s.prompt = RandomText(rng, true);
      for (int k = 0; k <= small(rng); ++k) s.answers.push_back(RandomText(rng, true));
      if (coin(rng)) {
        s.scorer.kind = AnswerScorer::Kind::kRegex;
        s.scorer.pattern = patterns[std::uniform_int_distribution<size_t>(0, patterns.size() - 1)(rng)];
        s.scorer.last_match = coin(rng);
      }
      for (int k = small(rng); k > 0; --k) s.stop.push_back(RandomText(rng, true));
      s.max_tokens = coin(rng) ? tokens(rng) : 0;
      task.samples.push_back(std::move(s));
    }
    ASSERT_TRUE(ValidateGenTask(task).ok()) << ValidateGenTask(task);
    const auto path = (qsweep::testing::ScratchDir("eval_gen_roundtrip") / "rt.jsonl").string();
    ASSERT_TRUE(WriteGenTaskJsonl(path, task).ok());
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    auto back = ReadGenTaskJsonl(path, task.name);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(*back, task) << "round " << round;
  }
}

TEST(GenTaskJsonl, WrittenLinesLeaveDefaultsOut) {
  GenTask task{"w", {Exact("a", {"5"}), Regex("(\\d+)", {"6"}, true)}};
  task.samples[1].id = "b";
  task.samples[1].stop = {"\n"};
  task.samples[1].max_tokens = 12;
  const auto path = (qsweep::testing::ScratchDir("eval_gen_written") / "w.jsonl").string();
  ASSERT_TRUE(WriteGenTaskJsonl(path, task).ok());
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, R"({"id":"a","prompt":"p","answers":["5"]})");
  std::getline(in, line);
  EXPECT_EQ(line,
            R"j({"id":"b","prompt":"p","answers":["6"],"scorer":"regex","pattern":"(\\d+)","select":"last",)j"
            R"j("stop":["\n"],"max_tokens":12})j");
}

TEST(GenTaskJsonl, WriterRefusesWhatWouldNotReadBack) {
  const auto path = (qsweep::testing::ScratchDir("eval_gen_refuse") / "t.jsonl").string();
  auto message = [&](const GenTask& t) { return std::string(WriteGenTaskJsonl(path, t).message()); };
  EXPECT_THAT(message(GenTask{"t", {}}), HasSubstr("task t: no samples"));
  EXPECT_THAT(message(GenTask{"t", {Exact("a", {"1"}), Exact("a", {"2"})}}),
              HasSubstr("sample 1 (id \"a\"): duplicate id"));
  GenSample s = Exact("a", {"1"});
  s.prompt = "";
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("empty prompt"));
  EXPECT_THAT(message(GenTask{"t", {Exact("a", {})}}), HasSubstr("no answers"));
  EXPECT_THAT(message(GenTask{"t", {Exact("a", {"1", " $. "})}}), HasSubstr("answer \" $. \" is empty once normalized"));
  s = Exact("a", {"1"});
  s.scorer.pattern = "x";
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("a pattern on an exact scorer"));
  s.scorer.pattern = "";
  s.scorer.last_match = true;
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("last_match on an exact scorer"));
  EXPECT_THAT(message(GenTask{"t", {Regex("", {"1"})}}), HasSubstr("a regex scorer without a pattern"));
  EXPECT_THAT(message(GenTask{"t", {Regex("(ab", {"1"})}}), HasSubstr("pattern \"(ab\" does not compile"));
  s = Exact("a", {"1"});
  s.stop = {"\n", ""};
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("an empty stop string"));
  s.stop = {};
  s.max_tokens = 5000;
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("max_tokens 5000 out of range 1..4096"));
  s.max_tokens = -1;
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("max_tokens -1 out of range"));
  s.max_tokens = 0;
  s.prompt = "bad \xff";
  EXPECT_THAT(message(GenTask{"t", {s}}), HasSubstr("cannot be written as JSON"));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GenTaskJsonl, BadRowsNameFileAndLine) {
  const std::string good = R"({"id": "ok", "prompt": "p", "answers": ["a"]})";
  struct Case {
    std::string line, message;
  };
  const std::vector<Case> cases = {
      {R"({"prompt": "p", "answers": ["a"]})", "\"id\" is missing"},
      {R"({"id": "", "prompt": "p", "answers": ["a"]})", "\"id\" is empty"},
      {R"({"id": 1, "answers": ["a"]})", "\"prompt\" is missing"},
      {R"({"id": 1, "prompt": "", "answers": ["a"]})", "\"prompt\" is empty"},
      {R"({"id": 1, "prompt": 3, "answers": ["a"]})", "\"prompt\" must be a string, got number"},
      {R"({"id": 1, "prompt": "p"})", "\"answers\" is missing"},
      {R"({"id": 1, "prompt": "p", "answers": []})", "\"answers\" is empty"},
      {R"({"id": 1, "prompt": "p", "answers": "a"})", "\"answers\" must be a list of strings, got string"},
      {R"({"id": 1, "prompt": "p", "answers": ["a", ""]})", "\"answers\"[1] (\"\") is empty once normalized"},
      {R"({"id": 1, "prompt": "p", "answers": ["a", " $ . "]})",
       "\"answers\"[1] (\" $ . \") is empty once normalized"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "scorer": "fuzzy"})",
       "unknown \"scorer\" \"fuzzy\" (known: exact, regex)"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "scorer": "regex"})",
       "\"pattern\" is missing (\"scorer\": \"regex\" needs one)"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "scorer": "regex", "pattern": ""})", "\"pattern\" is empty"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "pattern": "x"})",
       "\"pattern\" is only for \"scorer\": \"regex\""},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "scorer": "exact", "select": "last"})",
       "\"select\" is only for \"scorer\": \"regex\""},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "scorer": "regex", "pattern": "x", "select": "middle"})",
       "unknown \"select\" \"middle\" (known: first, last)"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "stop": ["\n", ""]})", "\"stop\"[1] is an empty string"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "stop": "\n"})", "\"stop\" must be a list of strings, got string"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "max_tokens": 0})", "\"max_tokens\" 0 out of range 1..4096"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "max_tokens": 5000})", "\"max_tokens\" 5000 out of range 1..4096"},
      {R"({"id": 1, "prompt": "p", "answers": ["a"], "max_tokens": 2.5})",
       "\"max_tokens\" must be an integer, got a fraction"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    // The bad row on line 2 after a good one: the line number must be right.
    EXPECT_EQ(ReadError("fields" + std::to_string(i), good + "\n" + cases[i].line + "\n"), "F:2: " + cases[i].message)
        << cases[i].line;
  }
}

TEST(GenTaskJsonl, InvalidJsonDuplicateIdAndEmptyFile) {
  const std::string e = ReadError("badjson", "{\"id\": 1, \"prompt\": \"p\", \"answers\": [\"a\"]}\n{\"id\": 2,,}\n");
  EXPECT_THAT(e, StartsWith("F:2: invalid JSON: column"));
  EXPECT_EQ(ReadError("dup",
                      "{\"id\": 5, \"prompt\": \"p\", \"answers\": [\"a\"]}\n"
                      "{\"id\": \"5\", \"prompt\": \"q\", \"answers\": [\"b\"]}\n"),
            "F:2: duplicate id \"5\" (first on line 1)");
  EXPECT_EQ(ReadError("empty", "\n\n"), "F: empty file (no JSON objects)");
  EXPECT_EQ(ReadGenTaskJsonl("/nonexistent/g.jsonl", "t").status().message(),
            "/nonexistent/g.jsonl: cannot open the file");
}

TEST(GenTaskJsonl, PatternThatDoesNotCompileNamesLinePcreMessageAndOffset) {
  const std::string e = ReadError("regex",
      "{\"id\": 1, \"prompt\": \"p\", \"answers\": [\"a\"], \"scorer\": \"regex\", \"pattern\": \"(\\\\d+)\"}\n"
      "\n"
      "{\"id\": 2, \"prompt\": \"p\", \"answers\": [\"a\"], \"scorer\": \"regex\", \"pattern\": \"#### (ab\"}\n");
  EXPECT_EQ(e, "F:3: \"pattern\" does not compile: missing closing parenthesis at offset 8");
  EXPECT_THAT(ReadError("regex2",
                        "{\"id\": 1, \"prompt\": \"p\", \"answers\": [\"a\"], \"scorer\": \"regex\", \"pattern\": \"a**\"}\n"),
              StartsWith("F:1: \"pattern\" does not compile: "));
}

TEST(NormalizeAnswer, LmEvalGsm8kRules) {
  EXPECT_EQ(NormalizeAnswer("  1,234. "), "1234");
  EXPECT_EQ(NormalizeAnswer("The  Answer\tIS"), "the answer is");
  EXPECT_EQ(NormalizeAnswer("$5"), "5");
  EXPECT_EQ(NormalizeAnswer("$1,000,000.00"), "1000000.00");
  EXPECT_EQ(NormalizeAnswer("\n\r\v\f 42 \n"), "42");
  EXPECT_EQ(NormalizeAnswer("a \n\t b"), "a b");
  EXPECT_EQ(NormalizeAnswer("3.."), "3.");  // one trailing '.' only
  EXPECT_EQ(NormalizeAnswer("5 ."), "5 ");  // trimmed before the '.' goes, as lm-eval's strip() then "\.$"
  EXPECT_EQ(NormalizeAnswer("ÉCOLE Ünd"), "École Ünd");  // ASCII-lowercase only
  EXPECT_EQ(NormalizeAnswer(""), "");
  EXPECT_EQ(NormalizeAnswer(" , $ "), "");
  EXPECT_EQ(NormalizeAnswer("."), "");
  EXPECT_EQ(NormalizeAnswer("1, 2"), "1 2");
}

TEST(ScoreAnswer, ExactNormalizesBothSides) {
  const GenSample s = Exact("a", {"1,234", "One thousand"});
  AnswerScore r = Score(s, " 1234.\n");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "1234");
  r = Score(s, "ONE   THOUSAND");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "one thousand");
  r = Score(s, "1234 apples");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "1234 apples");
  r = Score(s, "");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "");
}

TEST(ScoreAnswer, RegexFirstOrLastMatch) {
  const std::string gen = "First 3 apples, then 5 pears; #### 5";
  AnswerScore r = Score(Regex(R"((\d+))", {"5"}), gen);
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "3");
  r = Score(Regex(R"((\d+))", {"5"}, /*last=*/true), gen);
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "5");
}

TEST(ScoreAnswer, RegexNoMatch) {
  const AnswerScore r = Score(Regex(kGsm8kStrictPattern, {"5"}), "The answer is 5.");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "");
}

TEST(ScoreAnswer, CaptureGroupOrWholeMatch) {
  const std::string gen = "so the Answer: 42. done";
  AnswerScore r = Score(Regex(R"(Answer: \d+)", {"answer: 42"}), gen);
  EXPECT_TRUE(r.correct);  // whole match, normalized
  EXPECT_EQ(r.extracted, "answer: 42");
  r = Score(Regex(R"(Answer: (\d+))", {"42"}), gen);
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "42");
  // Non-capturing groups are not groups.
  r = Score(Regex(R"((?:Answer): \d+)", {"42"}), gen);
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "answer: 42");
}

TEST(ScoreAnswer, SeveralGroupsTakeTheFirstNonEmptyAsLmEval) {
  // lm-eval's gsm8k "flexible-extract" (group_select -1): findall gives
  // tuples; the first non-empty element of the last one is the answer.
  const std::string flexible = R"((-?[$0-9.,]{2,})|(-?[0-9]+))";
  AnswerScore r = Score(Regex(flexible, {"7"}, true), "I had $12 and then 7");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "7");
  r = Score(Regex(flexible, {"12"}, false), "I had $12 and then 7");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "12");
  // Every group empty: lm-eval's fallback, incorrect.
  r = Score(Regex(R"((a*)(b*)c)", {"c"}), "xc");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "");
}

TEST(ScoreAnswer, EmptyMatchesDoNotHang) {
  const auto start = std::chrono::steady_clock::now();
  // re.findall("x*", "axxbx") == ['', 'xx', '', 'x', '']: the last is empty.
  AnswerScore r = Score(Regex("x*", {"x"}, true), "axxbx");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "");
  r = Score(Regex("x*", {"x"}, false), "xab");
  EXPECT_TRUE(r.correct);
  // Multi-byte characters around empty matches: advanced by a character.
  r = Score(Regex("(é*)", {"éé"}, true), "aéébé🙂");
  EXPECT_EQ(r.extracted, "");
  r = Score(Regex("(é*)🙂", {"é"}, true), "aéébé🙂 🙂");
  EXPECT_EQ(r.extracted, "");  // the last match is the second 🙂, with no é
  r = Score(Regex("(é*)🙂", {"é"}, false), "aéébé🙂 🙂");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "é");
  // Greedy at the start; a later non-empty match after empty ones.
  r = Score(Regex(R"(\d*)", {"12"}, false), "12x");
  EXPECT_EQ(r.extracted, "12");
  r = Score(Regex(R"((\d*)%)", {"10"}, true), "5% and 10% of it");
  EXPECT_TRUE(r.correct);
  r = Score(Regex("x*", {"x"}, true), "");
  EXPECT_FALSE(r.correct);
  // A long generation of nothing but empty matches.
  r = Score(Regex("q*", {"q"}, true), std::string(100000, 'a'));
  EXPECT_FALSE(r.correct);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// Expected values from Python: lm-eval's RegexFilter logic over
// re.findall(pattern, text)[0] / [-1] (tuples: first non-empty element,
// none: the fallback, here ""), then NormalizeAnswer.
TEST(ScoreAnswer, MatchesAsPythonFindall) {
  struct Case {
    std::string pattern, text, first, last;
  };
  const std::vector<Case> cases = {
      {"x*", "axxbx", "", ""},                    // ['', 'xx', '', 'x', '']
      {"(?=x)(|x)", "axbx", "", "x"},             // ['', 'x', '', 'x']: non-empty after empty at one place
      {"(?=x)(|x)", "x\xf0\x9f\x99\x82x", "", "x"},  // the same across a 4-byte character
      {"(|x)", "xax", "", ""},                    // ['', 'x', '', '', 'x', '']
      {R"((\d*)%)", "5% and 10% of it", "5", "10"},
      {R"(\b\w+\b)", "h\xc3\xa9llo w\xc3\xb6rld \xc3\x9f", "h\xc3\xa9llo", "\xc3\x9f"},  // Unicode \w
      {"(a)|(b)", "cab", "a", "b"},
      {"(a)?b", "b ab", "", "a"},
      {R"(#### (\-?[0-9\.\,]+))", "#### 1,2 then #### -3.", "12", "-3"},
      {R"((-?[$0-9.,]{2,})|(-?[0-9]+))", "$1,000 or 7 or 8.5", "1000", "8.5"},
      {R"((?<=\$)\d+)", "$5 $60", "5", "60"},
      {R"(\s*)", " a  b ", "", ""},
      {R"((\w)(\w)?)", "abc", "a", "c"},
      {"[^a]*", "baab", "b", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Score(Regex(c.pattern, {"zzz"}, false), c.text).extracted, c.first) << c.pattern << " on " << c.text;
    EXPECT_EQ(Score(Regex(c.pattern, {"zzz"}, true), c.text).extracted, c.last) << c.pattern << " on " << c.text;
  }
}

TEST(ScoreAnswer, BytesThatAreNotUtf8AreMatchedAsReplacement) {
  const AnswerScore r = Score(Regex(R"((\d+))", {"42"}, true), "\xff\xfe 7 then \xc3 42");
  EXPECT_TRUE(r.correct);
  EXPECT_EQ(r.extracted, "42");
}

TEST(ScoreAnswer, PatternThatDoesNotCompileIsAnError) {
  GenSample s = Regex("(ab", {"1"});
  s.id = "bad";
  auto r = ScoreAnswer(s, "ab");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("sample \"bad\": pattern does not compile"));
}

// A pattern that backtracks catastrophically on the generation ends at the
// match limits with an error, instead of running for ever.
TEST(ScoreAnswer, CatastrophicBacktrackingEndsAtTheMatchLimit) {
  const auto t0 = std::chrono::steady_clock::now();
  auto s = ScoreAnswer(Regex("(a+)+$", {"1"}), std::string(60, 'a') + "!");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("limit"));
  EXPECT_LT(seconds, 30.0);
}

TEST(ScoreAnswer, ManyCallsShareTheCompiledPattern) {
  const GenSample s = Regex(kGsm8kStrictPattern, {"1,234"});
  int correct = 0;
  for (int i = 0; i < 20000; ++i) {
    auto r = ScoreAnswer(s, i % 2 ? "so #### 1234\n" : "so #### 1,235");
    ASSERT_TRUE(r.ok());
    correct += r->correct;
  }
  EXPECT_EQ(correct, 10000);
}

std::string Fixture(const std::string& file) { return qsweep::testing::RepoTestData("tasks/import/" + file).string(); }

TEST(ImportGsm8k, LmEvalTemplateOnTheFixture) {
  auto task = ImportGenTask("gsm8k", Fixture("gsm8k.jsonl"), "");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->name, "gsm8k");
  ASSERT_EQ(task->samples.size(), 3u);
  const GenSample& a = task->samples[0];
  EXPECT_EQ(a.id, "0");
  EXPECT_EQ(a.prompt,
            "Question: A baker makes 12 loaves of bread every hour. He works for 6 hours a day. How many loaves "
            "does he make in 5 days?\nAnswer:");
  EXPECT_EQ(a.answers, Strings{"360"});
  EXPECT_EQ(a.scorer.kind, AnswerScorer::Kind::kRegex);
  EXPECT_EQ(a.scorer.pattern, R"(#### (\-?[0-9\.\,]+))");
  EXPECT_FALSE(a.scorer.last_match);
  EXPECT_EQ(a.stop, (Strings{"Question:", "</s>", "<|im_end|>"}));
  EXPECT_EQ(a.max_tokens, 256);
  const GenSample& b = task->samples[1];
  EXPECT_EQ(b.id, "1");
  EXPECT_EQ(b.prompt,
            "Question: Maria\xe2\x80\x99s school sold 617 tickets on Friday and twice as many on Saturday. How many "
            "tickets did it sell on both days?\nAnswer:");
  EXPECT_EQ(b.answers, Strings{"1,851"});
  const GenSample& c = task->samples[2];
  EXPECT_EQ(c.id, "gsm-neg");
  EXPECT_EQ(c.answers, Strings{"-7"});  // "####  -7 \n", trimmed

  // Strict match: "#### <number>" in the generation, commas ignored.
  EXPECT_TRUE(Score(b, " 617 * 2 = 1234, so 617 + 1234 = 1851.\n#### 1851\n").correct);
  EXPECT_TRUE(Score(b, " It sold 1,851 tickets.\n#### 1,851").correct);
  EXPECT_FALSE(Score(b, " The answer is 1851.").correct);  // no "####": strict-match fails
  EXPECT_FALSE(Score(b, "#### 1852 #### 1851").correct);   // the first match counts
  EXPECT_TRUE(Score(c, "4 - 11 = -7\n#### -7.").correct);

  // What the importer makes, the generative JSONL reads back equal.
  const auto path = (qsweep::testing::ScratchDir("eval_gen_gsm8k_rt") / "gsm8k.jsonl").string();
  ASSERT_TRUE(WriteGenTaskJsonl(path, *task).ok());
  auto back = ImportGenTask("gen-jsonl", path, "gsm8k");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *task);
}

TEST(ImportGsm8k, BadRows) {
  auto error = [](const std::string& test, const std::string& text) {
    const std::string path = WriteFile(test, text);
    auto task = ImportGsm8k(path, "g");
    EXPECT_FALSE(task.ok());
    const std::string m = task.ok() ? "" : std::string(task.status().message());
    return m.starts_with(path) ? "F" + m.substr(path.size()) : m;
  };
  EXPECT_EQ(error("gsm_nomark", "{\"question\": \"q\", \"answer\": \"3 + 4 = 7\\n#### 7\"}\n"
                                "{\"question\": \"q\", \"answer\": \"3 + 4 = 7\"}\n"),
            "F:2: \"answer\" has no \"#### <final answer>\"");
  EXPECT_EQ(error("gsm_empty", "{\"question\": \"q\", \"answer\": \"so\\n####  \"}\n"),
            "F:1: \"answer\" has nothing after its last \"####\" (\"\")");
  EXPECT_EQ(error("gsm_question", "{\"answer\": \"#### 7\"}\n"), "F:1: \"question\" is missing");
  EXPECT_EQ(error("gsm_dup", "{\"id\": 1, \"question\": \"q\", \"answer\": \"#### 7\"}\n"
                             "{\"question\": \"q\", \"answer\": \"#### 7\"}\n"),
            "F:2: duplicate id \"1\" (first on line 1)");
}

TEST(ImportGenTask, UnknownFormatListsTheKnownOnes) {
  auto task = ImportGenTask("mmlu", Fixture("gsm8k.jsonl"), "x");
  ASSERT_FALSE(task.ok());
  EXPECT_THAT(std::string(task.status().message()),
              HasSubstr("unknown generative task format \"mmlu\" (known: gen-jsonl, gsm8k)"));
}

}  // namespace
}  // namespace qsweep::tasks
