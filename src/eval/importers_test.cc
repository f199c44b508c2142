#include "eval/importers.h"

#include <fstream>

#include <gtest/gtest.h>

#include "eval/csv.h"
#include "test_paths.h"

namespace qsweep {
namespace {

using testing::RepoTestData;
using testing::SharedData;

McTask Import(const std::string& format, const std::string& file, ImportOptions o = {}) {
  auto t = ImportTask(format, RepoTestData("tasks/" + file).string(), format, o);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : McTask{};
}

TEST(Importers, ArcTemplateAndNumericAnswerKeys) {
  const McTask t = Import("arc", "arc.jsonl");
  ASSERT_EQ(t.samples.size(), 2u);
  EXPECT_EQ(t.samples[0].contexts[0],
            "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most "
            "likely effect of this increase in rotation?\nAnswer:");
  EXPECT_EQ(t.samples[0].continuations[2], " Planetary days will become shorter.");
  EXPECT_EQ(t.samples[0].label, 2);
  EXPECT_EQ(t.samples[1].label, 1);  // answerKey "2" of labels "1".."3"
}

TEST(Importers, HellaswagPreprocessAsLmEval) {
  const McTask t = Import("hellaswag", "hellaswag.jsonl");
  ASSERT_EQ(t.samples.size(), 2u);
  EXPECT_EQ(t.samples[0].contexts[0], "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(t.samples[0].continuations[3], " starts pulling up roofing on a roof.");
  // lm-eval, by hand: "Home and Garden: [header] How to clean a grill [title] Heat the
  // grill. Scrub it" (ctx_b capitalized, the rest lowered) → " [title]" becomes ". "
  // ("grill.  Heat"), "[header]" is removed (":  How"), then "  " → " ".
  EXPECT_EQ(t.samples[1].contexts[0], "Home and Garden: How to clean a grill. Heat the grill. Scrub it");
  // "[step] Use a  brush.": stripped before "[step]" is removed, so a space stays
  // in front, after the target delimiter — as in lm-eval.
  EXPECT_EQ(t.samples[1].continuations[0], "  Use a brush.");
  EXPECT_EQ(t.samples[1].label, 0);
}

TEST(Importers, PiqaBoolqWinogrande) {
  const McTask p = Import("piqa", "piqa.jsonl", {.labels_path = RepoTestData("tasks/piqa-labels.lst").string()});
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[1].contexts[0], "Question: dresser\nAnswer:");
  EXPECT_EQ(p.samples[1].continuations[1], " finish, woodgrain with  bobby pin");
  EXPECT_EQ(p.samples[1].label, 1);
  const McTask b = Import("boolq", "boolq.jsonl");
  EXPECT_EQ(b.samples[0].contexts[0],
            "Persian language -- Persian is spoken in Iran and Afghanistan.\nQuestion: do iran and afghanistan speak "
            "the same language?\nAnswer:");
  EXPECT_EQ(b.samples[0].continuations, (std::vector<std::string>{" no", " yes"}));
  EXPECT_EQ(b.samples[0].label, 1);
  EXPECT_EQ(b.samples[1].label, 0);
  const McTask w = Import("winogrande", "winogrande.jsonl");
  ASSERT_EQ(w.samples[0].contexts.size(), 2u);
  EXPECT_EQ(w.samples[0].contexts[0], "Ian volunteered to eat Dennis's menudo after already having a bowl because Ian");
  EXPECT_EQ(w.samples[0].contexts[1], "Ian volunteered to eat Dennis's menudo after already having a bowl because Dennis");
  EXPECT_EQ(w.samples[0].continuations[0], " despised eating intestine.");
  EXPECT_EQ(w.samples[0].label, 1);
}

TEST(Importers, MmluRealSubjectWithFiveShots) {
  const auto path = SharedData("benchmarks/mmlu/test/abstract_algebra_test.csv");
  QSWEEP_REQUIRE_FILE(path);
  auto t = ImportTask("mmlu", path.string(), "mmlu_abstract_algebra", {.fewshot = 5});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->samples.size(), 100u);
  const std::string& ctx = t->samples[0].contexts[0];
  EXPECT_EQ(ctx.rfind("The following are multiple choice questions (with answers) about abstract algebra.\n\n"
                      "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n",
                      0),
            0u);
  size_t shots = 0;
  for (size_t at = ctx.find("\nAnswer: "); at != std::string::npos; at = ctx.find("\nAnswer: ", at + 1)) ++shots;
  EXPECT_EQ(shots, 5u);
  EXPECT_TRUE(ctx.ends_with("\nAnswer:"));
  EXPECT_EQ(t->samples[0].continuations, (std::vector<std::string>{" A", " B", " C", " D"}));
}

TEST(Importers, BadInputsNameFileAndLine) {
  const auto dir = testing::ScratchDir("importers_bad");
  std::ofstream(dir / "arc.jsonl") << R"({"id": "x", "question": {"stem": "s", "choices": [{"text": "a", "label": "A"}]}, "answerKey": "E"})"
                                   << "\n";
  auto arc = ImportTask("arc", (dir / "arc.jsonl").string(), "arc");
  ASSERT_FALSE(arc.ok());
  EXPECT_NE(arc.status().message().find("arc.jsonl:1: answerKey 'E'"), std::string::npos) << arc.status();
  std::ofstream(dir / "m.csv") << "q,a,b,c,d,E\n";
  auto mmlu = ImportTask("mmlu", (dir / "m.csv").string(), "m");
  ASSERT_FALSE(mmlu.ok());
  EXPECT_NE(mmlu.status().message().find("m.csv: row 1: answer 'E'"), std::string::npos) << mmlu.status();
  auto unknown = ImportTask("squad", (dir / "m.csv").string(), "m");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("known: jsonl, arc"), std::string::npos);
}

TEST(Csv, QuotesCommasNewlinesAndDoubledQuotes) {
  auto rows = ParseCsv("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x,\n", "f.csv");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"a", "b, c", "say \"hi\""}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"multi\nline", "x", ""}));
  auto bad = ParseCsv("a,\"open\n", "f.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("f.csv:1: unterminated"), std::string::npos);
}

}  // namespace
}  // namespace qsweep
