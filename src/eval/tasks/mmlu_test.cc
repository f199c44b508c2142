#include "eval/tasks/mmlu.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/tasks/import_task.h"
#include "test_paths.h"

namespace qsweep::tasks {
namespace {

using ::testing::EndsWith;
using ::testing::StartsWith;
using Strings = std::vector<std::string>;
using qsweep::testing::RepoTestData;
using qsweep::testing::SharedData;

ImportOptions FewShot(int k) {
  ImportOptions o;
  o.fewshot = k;
  return o;
}

MmluOptions Shots(int k, const std::string& dev = "") {
  MmluOptions o;
  o.shots = k;
  o.dev_path = dev;
  return o;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The expected strings and counts come from Python's csv module and
// lm-eval's mmlu template applied to the same files.
TEST(MmluReal, AbstractAlgebraFiveShot) {
  const std::string test = SharedData("benchmarks/mmlu/test/abstract_algebra_test.csv").string();
  QSWEEP_REQUIRE_FILE(test);
  auto t = ImportTask("mmlu", test);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "abstract_algebra_test");
  ASSERT_EQ(t->samples.size(), 100u);
  const McSample& s = t->samples[0];
  EXPECT_EQ(s.id, "abstract_algebra_test/0");
  EXPECT_EQ(s.continuations, (Strings{" A", " B", " C", " D"}));
  EXPECT_EQ(s.label, 1);                    // "B"
  EXPECT_EQ(t->samples[1].label, 2);        // "C"
  EXPECT_EQ(t->samples[99].label, 2);       // last row: "C"
  ASSERT_EQ(s.contexts.size(), 1u);
  const std::string& prompt = s.contexts[0];
  EXPECT_THAT(prompt, StartsWith("The following are multiple choice questions (with answers) about abstract algebra."
                                 "\n\nFind all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\n"
                                 "D. 3\nAnswer: B\n\nStatement 1 | If aH is an element of a factor group, then |aH| "
                                 "divides |a|."));
  EXPECT_THAT(prompt, EndsWith("Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n"
                               "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
                               "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:"));
  EXPECT_EQ(Count(prompt, "\nAnswer: "), 5u);  // five solved dev examples
  EXPECT_EQ(Count(prompt, "\nAnswer:"), 6u);   // and the question
  EXPECT_EQ(prompt.size(), 993u);
  // Every sample shares the same 5-shot prefix.
  const size_t prefix = prompt.size() - std::string("Find the degree for the given field extension Q(sqrt(2), "
                                                    "sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:").size();
  EXPECT_EQ(t->samples[57].contexts[0].substr(0, prefix), prompt.substr(0, prefix));
}

TEST(MmluReal, ZeroShotAndQuotedMultiLineQuestion) {
  const std::string test = SharedData("benchmarks/mmlu/test/computer_security_test.csv").string();
  QSWEEP_REQUIRE_FILE(test);
  auto t = ImportTask("mmlu", test, FewShot(0));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->samples.size(), 100u);
  const std::string& prompt = t->samples[1].contexts[0];
  EXPECT_THAT(prompt, StartsWith("The following are multiple choice questions (with answers) about computer security."
                                 "\n\nAssume that a TLS connection"));
  EXPECT_NE(prompt.find("don\xe2\x80\x99t leak their keys"), std::string::npos);
  EXPECT_NE(prompt.find("sent earlier.\n2. An attacker impersonating the server.\nA. "), std::string::npos);
  EXPECT_EQ(t->samples[1].label, 0);
}

// The CSV reader against every real file: the record counts Python's csv
// module finds (these files hold 14079 test and 1542 val rows, some repeated).
TEST(MmluReal, EverySubjectParses) {
  const auto root = SharedData("benchmarks/mmlu");
  QSWEEP_REQUIRE_FILE(root / "test");
  size_t subjects = 0, test_rows = 0, val_rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root / "test")) {
    auto t = ImportTask("mmlu", entry.path().string());
    ASSERT_TRUE(t.ok()) << t.status();
    test_rows += t->samples.size();
    const std::string subject = MmluSubject(entry.path().string());
    auto v = ImportTask("mmlu", (root / "val" / (subject + "_val.csv")).string(), FewShot(1));
    ASSERT_TRUE(v.ok()) << v.status();
    val_rows += v->samples.size();
    ++subjects;
  }
  EXPECT_EQ(subjects, 57u);
  EXPECT_EQ(test_rows, 14079u);
  EXPECT_EQ(val_rows, 1542u);
}

TEST(MmluFixture, ShotsFromDevQuotedFieldsAndStrip) {
  const std::string test = RepoTestData("tasks/import/mmlu/test/tiny_subject_test.csv").string();
  auto t = ImportMmlu(test, "tiny", Shots(2));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->samples.size(), 2u);
  const std::string prefix =
      "The following are multiple choice questions (with answers) about tiny subject.\n\n"
      "What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
      "Pick the letter C.\nA. A\nB. B\nC. C\nD. D\nAnswer: C\n\n";
  EXPECT_EQ(t->samples[0].contexts, Strings{prefix + "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:"});
  EXPECT_EQ(t->samples[0].label, 1);
  EXPECT_EQ(t->samples[1].contexts,
            Strings{prefix + "A question with \"quotes\", a comma\nand a line break\nA. x\nB. y, z\nC. \nD. w\nAnswer:"});
  EXPECT_EQ(t->samples[1].label, 3);
}

TEST(MmluFixture, Errors) {
  const std::string test = RepoTestData("tasks/import/mmlu/test/tiny_subject_test.csv").string();
  const std::string dev = RepoTestData("tasks/import/mmlu/dev/tiny_subject_dev.csv").string();
  auto too_many = ImportMmlu(test, "t", Shots(3));
  EXPECT_EQ(too_many.status().message(), dev + ": 2 questions, but 3 few-shot examples were asked for");
  auto self = ImportMmlu(dev, "t", Shots(1));
  EXPECT_THAT(std::string(self.status().message()), StartsWith(dev + ": the few-shot examples would come from this"));
  auto no_dev = ImportMmlu(test, "t", Shots(1, "/nonexistent/x_dev.csv"));
  EXPECT_EQ(no_dev.status().message(), "/nonexistent/x_dev.csv: cannot open the file");

  const auto dir = qsweep::testing::ScratchDir("eval_tasks_mmlu_errors");
  const std::string bad = (dir / "bad_test.csv").string();
  std::ofstream(bad) << "q,a,b,c,d,A\n\"multi\nline\",a,b,c,d,E\n";
  EXPECT_EQ(ImportMmlu(bad, "t", Shots(0)).status().message(), bad + ":2: answer \"E\" is not A, B, C or D");
  std::ofstream(bad) << "q,a,b,c,d,A\nq,a,b,c,A\n";
  EXPECT_EQ(ImportMmlu(bad, "t", Shots(0)).status().message(),
            bad + ":2: 5 fields, expected 6 (question, A, B, C, D, answer letter)");
  std::ofstream(bad) << "";
  EXPECT_EQ(ImportMmlu(bad, "t", Shots(0)).status().message(), bad + ": empty file (no questions)");
}

TEST(MmluSubject, FromFileNames) {
  EXPECT_EQ(MmluSubject("/d/test/high_school_us_history_test.csv"), "high_school_us_history");
  EXPECT_EQ(MmluSubject("x/anatomy_dev.csv"), "anatomy");
  EXPECT_EQ(MmluSubject("x/anatomy.csv"), "anatomy");
}

}  // namespace
}  // namespace qsweep::tasks
