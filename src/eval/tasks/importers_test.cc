// Each importer on hand-written rows of the real formats
// (tests/data/tasks/import/); the expected strings were produced by
// lm-evaluation-harness's own template code (doc_to_text / doc_to_choice /
// hellaswag preprocess / winogrande partial scoring) run on the same rows.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/tasks/hellaswag.h"
#include "eval/tasks/import_task.h"
#include "test_paths.h"

namespace qsweep::tasks {
namespace {

using ::testing::HasSubstr;
using Strings = std::vector<std::string>;

std::string Fixture(const std::string& file) { return qsweep::testing::RepoTestData("tasks/import/" + file).string(); }

McTask Import(const std::string& format, const std::string& file, ImportOptions options = {}) {
  auto task = ImportTask(format, Fixture(file), options);
  EXPECT_TRUE(task.ok()) << task.status();
  return task.ok() ? *task : McTask{};
}

// A scratch file holding `text`, for rows that must fail.
std::string Scratch(const std::string& test, const std::string& text) {
  const auto path = (qsweep::testing::ScratchDir("eval_tasks_imp_" + test) / "rows.jsonl").string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

ImportOptions Labels(const std::string& path) {
  ImportOptions o;
  o.labels_path = path;
  return o;
}

std::string ImportError(const std::string& format, const std::string& path, ImportOptions options = {}) {
  auto task = ImportTask(format, path, options);
  EXPECT_FALSE(task.ok());
  return task.ok() ? "" : std::string(task.status().message());
}

TEST(ImportArc, TemplateAndAnswerKeysOfBothSchemes) {
  const McTask t = Import("arc", "arc.jsonl");
  EXPECT_EQ(t.name, "arc");
  ASSERT_EQ(t.samples.size(), 3u);
  EXPECT_EQ(t.samples[0].id, "Mercury_SC_415702");
  EXPECT_EQ(t.samples[0].contexts,
            Strings{"Question: George wants to warm his hands quickly by rubbing them. Which skin surface will "
                    "produce the most heat?\nAnswer:"});
  EXPECT_EQ(t.samples[0].continuations,
            (Strings{" dry palms", " wet palms", " palms covered with oil", " palms covered with lotion"}));
  EXPECT_EQ(t.samples[0].label, 0);
  EXPECT_EQ(t.samples[0].target_delimiter, " ");
  EXPECT_EQ(ChoiceLength(t.samples[0], 0), 9);  // len("dry palms")
  EXPECT_EQ(t.samples[1].label, 1);  // answerKey "2", labels "1".."4"
  EXPECT_EQ(t.samples[2].continuations.size(), 5u);
  EXPECT_EQ(t.samples[2].label, 2);  // answerKey "3", labels "A".."E"
}

TEST(ImportArc, BadRows) {
  const std::string row = R"({"id": "x", "question": {"stem": "s", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, "answerKey": "F"})";
  std::string path = Scratch("arc_key", row + "\n");
  EXPECT_EQ(ImportError("arc", path), path + ":1: answerKey \"F\" is not one of the choice labels (A, B)");
  path = Scratch("arc_stem", R"({"id": "x", "question": {"choices": []}, "answerKey": "A"})"
                             "\n");
  EXPECT_EQ(ImportError("arc", path), path + ":1: \"question.stem\" is missing");
  path = Scratch("arc_text", R"({"id": "x", "question": {"stem": "s", "choices": [{"text": 3, "label": "A"}]}, "answerKey": "A"})"
                             "\n");
  EXPECT_EQ(ImportError("arc", path), path + ":1: \"question.choices[0].text\" must be a string, got number");
}

TEST(ImportHellaswag, PreprocessAndTemplateAsLmEval) {
  const McTask t = Import("hellaswag", "hellaswag.jsonl");
  ASSERT_EQ(t.samples.size(), 3u);
  EXPECT_EQ(t.samples[0].id, "24");
  EXPECT_EQ(t.samples[0].contexts, Strings{"Roof shingle removal: A man is sitting on a roof. He"});
  EXPECT_EQ(t.samples[0].continuations,
            (Strings{" is using wrap to wrap a pair of skis.", " is ripping level tiles off.",
                     " is holding a rubik's cube.", " starts pulling up roofing on a roof."}));
  EXPECT_EQ(t.samples[0].label, 3);
  EXPECT_EQ(t.samples[1].contexts, Strings{"Home and Garden: How to clean a grill. Heat the grill. Turn it on HIGH "
                                           "for ten minutes. Scrub the grates"});
  // lm-eval strips before removing brackets, so some endings keep a leading
  // space after the delimiter, and " [title]" leaves ". ." — as published.
  EXPECT_EQ(t.samples[1].continuations, (Strings{" with a wire brush. Wear gloves.", "  Let it cool down.",
                                                 " while they are hot. . Oil them.", "  Paint them."}));
  EXPECT_EQ(t.samples[1].label, 2);  // "label": "2" as the HF dataset writes it
  EXPECT_EQ(t.samples[2].contexts, Strings{"Sharpening knives: Then he shows a [broken bracket"});
}

TEST(ImportHellaswag, PreprocessEdgeCases) {
  EXPECT_EQ(HellaswagPreprocess("a [x[y] b"), "a b");
  EXPECT_EQ(HellaswagPreprocess("a [x\ny] b"), "a [x\ny] b");
  EXPECT_EQ(HellaswagPreprocess("a   b"), "a  b");  // one pass of "  " -> " ", as str.replace
  EXPECT_EQ(HellaswagPreprocess("a [title] x"), "a. x");
  // A hostile line: 2 MB of '[' with no ']' is kept as it is, in linear time
  // (quadratic searches would outlast the test's timeout by hours).
  const std::string open(2 << 20, '[');
  EXPECT_EQ(HellaswagPreprocess(open + "x"), open + "x");
  EXPECT_EQ(HellaswagPreprocess(open + "]x"), "x");
  EXPECT_EQ(HellaswagPreprocess("[a\n[b]c[d"), "[a\nc[d");
  EXPECT_EQ(HellaswagPreprocess(" [title] x"), " x");  // stripped first, so no " [title]" is left
}

TEST(ImportHellaswag, BadRows) {
  std::string path = Scratch("hs_label", R"({"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["d", "e"], "label": 2})"
                                         "\n");
  EXPECT_EQ(ImportError("hellaswag", path), path + ":1: label 2 out of range: 2 endings, so 0..1");
  path = Scratch("hs_testsplit", R"({"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["d"], "label": ""})"
                                 "\n");
  EXPECT_EQ(ImportError("hellaswag", path), path + ":1: \"label\" must be an integer, got \"\"");
}

TEST(ImportPiqa, LabelsFileAndLabelsInRows) {
  const McTask t = Import("piqa", "piqa.jsonl", Labels(Fixture("piqa-labels.lst")));
  ASSERT_EQ(t.samples.size(), 3u);
  EXPECT_EQ(t.samples[1].id, "1");
  EXPECT_EQ(t.samples[1].contexts, Strings{"Question: dresser\nAnswer:"});
  EXPECT_EQ(t.samples[1].continuations,
            (Strings{" replace drawer with bobby pin ", " finish, woodgrain with  bobby pin "}));
  EXPECT_EQ(t.samples[0].label, 0);
  EXPECT_EQ(t.samples[1].label, 1);
  EXPECT_EQ(t.samples[2].label, 0);
  const McTask hf = Import("piqa", "piqa_hf.jsonl");
  ASSERT_EQ(hf.samples.size(), 2u);
  EXPECT_EQ(hf.samples[1].contexts, Strings{"Question: Keep bread fresh\nAnswer:"});
  EXPECT_EQ(hf.samples[1].label, 1);
}

TEST(ImportPiqa, BadLabels) {
  EXPECT_EQ(ImportError("piqa", Fixture("piqa.jsonl")),
            Fixture("piqa.jsonl") + ":1: \"label\" is missing (give it in the object or a labels file)");
  const std::string two = Scratch("piqa_two", "0\n1\n");
  EXPECT_EQ(ImportError("piqa", Fixture("piqa.jsonl"), Labels(two)),
            Fixture("piqa.jsonl") + ":3: row 3 has no label: " + two + " holds 2 labels");
  const std::string bad = Scratch("piqa_bad", "0\n2\n");
  EXPECT_EQ(ImportError("piqa", Fixture("piqa.jsonl"), Labels(bad)), bad + ":2: label \"2\" is not 0 or 1");
  const std::string four = Scratch("piqa_four", "0\n1\n0\n1\n");
  EXPECT_EQ(ImportError("piqa", Fixture("piqa.jsonl"), Labels(four)),
            four + ": 4 labels for the 3 rows of " + Fixture("piqa.jsonl"));
  const std::string disagree = Scratch("piqa_dis", "1\n1\n");
  EXPECT_THAT(ImportError("piqa", Fixture("piqa_hf.jsonl"), Labels(disagree)),
              HasSubstr("piqa_hf.jsonl:1: label 0 disagrees with " + disagree + ":1 (1)"));
}

TEST(ImportBoolq, TemplateNoYes) {
  const McTask t = Import("boolq", "boolq.jsonl");
  ASSERT_EQ(t.samples.size(), 3u);
  EXPECT_EQ(t.samples[1].contexts,
            Strings{"The Sun is the star at the center of the Solar System.\nQuestion: is the sun a planet?\nAnswer:"});
  EXPECT_EQ(t.samples[1].continuations, (Strings{" no", " yes"}));
  EXPECT_EQ(t.samples[0].label, 1);
  EXPECT_EQ(t.samples[1].label, 0);
  EXPECT_EQ(t.samples[0].contexts[0].substr(0, 13), "Persian (/\xcb\x88p");  // \u escapes decoded to UTF-8
  EXPECT_EQ(t.samples[2].id, "7");                                          // SuperGLUE "idx", "label"
  EXPECT_EQ(t.samples[2].label, 1);
  const std::string path = Scratch("boolq_answer", R"({"question": "q", "passage": "p", "answer": "yes"})"
                                                   "\n");
  EXPECT_EQ(ImportError("boolq", path), path + ":1: \"answer\" must be true or false, got string");
}

TEST(ImportWinogrande, PartialScoring) {
  const McTask t = Import("winogrande", "winogrande.jsonl");
  ASSERT_EQ(t.samples.size(), 3u);
  EXPECT_EQ(t.samples[0].id, "3QHITW7OYO7Q6B6ISU2UMJB84ZLAQE-2");
  EXPECT_EQ(t.samples[0].contexts,
            (Strings{"Ian volunteered to eat Dennis's menudo after already having a bowl because Ian",
                     "Ian volunteered to eat Dennis's menudo after already having a bowl because Dennis"}));
  EXPECT_EQ(t.samples[0].continuations, (Strings{" despised eating intestine.", " despised eating intestine."}));
  EXPECT_EQ(t.samples[0].label, 1);
  EXPECT_EQ(t.samples[0].target_delimiter, " ");
  EXPECT_EQ(t.samples[1].continuations, (Strings{" is smaller.", " is smaller."}));  // trailing spaces stripped
  EXPECT_EQ(t.samples[1].label, 0);
  EXPECT_EQ(t.samples[2].contexts, (Strings{"Anna", "Bo"}));  // blank first: the option alone
  EXPECT_EQ(t.samples[2].label, 1);
}

TEST(ImportWinogrande, BadRows) {
  std::string path = Scratch("wg_blank", R"({"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"})"
                                         "\n");
  EXPECT_EQ(ImportError("winogrande", path), path + ":1: \"sentence\" has no blank \"_\"");
  path = Scratch("wg_answer", "\n" R"({"sentence": "x _ y", "option1": "a", "option2": "b", "answer": "3"})"
                              "\n");
  EXPECT_EQ(ImportError("winogrande", path), path + ":2: answer 3 is not 1 or 2");
  path = Scratch("wg_dup", R"({"qID": "a", "sentence": "x _ y", "option1": "a", "option2": "b", "answer": "1"})"
                           "\n"
                           R"({"qID": "a", "sentence": "x _ z", "option1": "a", "option2": "b", "answer": "1"})"
                           "\n");
  EXPECT_EQ(ImportError("winogrande", path), path + ":2: duplicate id \"a\" (first on line 1)");
}

TEST(ImportTask, JsonlFormatAndNames) {
  const std::string path = Scratch("jsonl", R"({"id": 1, "context": "c", "choices": ["a"], "label": 0})"
                                            "\n");
  auto t = ImportTask("jsonl", path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "rows");
  auto named = ImportTask("jsonl", path, [] { ImportOptions o; o.name = "mine"; return o; }());
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->name, "mine");
}

TEST(ImportTask, UnknownFormatListsTheKnownOnes) {
  EXPECT_EQ(ImportError("squad", "x.jsonl"),
            "x.jsonl: unknown task format \"squad\" (known: jsonl, arc, hellaswag, mmlu, piqa, boolq, winogrande)");
}

TEST(ImportTask, OptionsOfOtherFormatsAreRefused) {
  EXPECT_EQ(ImportError("arc", Fixture("arc.jsonl"), [] { ImportOptions o; o.fewshot = 5; return o; }()),
            Fixture("arc.jsonl") + ": format \"arc\" takes no fewshot option");
  EXPECT_EQ(ImportError("boolq", Fixture("boolq.jsonl"), Labels("l.lst")),
            Fixture("boolq.jsonl") + ": format \"boolq\" takes no labels option");
}

TEST(ImportTask, InvalidJsonInAnImporterNamesTheLine) {
  const std::string path = Scratch("badjson", R"({"goal": "g", "sol1": "a", "sol2": "b", "label": 0})"
                                              "\n{\"goal\": \n");
  EXPECT_THAT(ImportError("piqa", path), HasSubstr(path + ":2: invalid JSON: column"));
}

// What the task_import fuzz target found: a number too large for a double
// escaped the JSONL reader as an exception.
TEST(ImportTask, NumbersTooLargeForADoubleAreErrors) {
  const std::string path = ::testing::TempDir() + "/huge_number.jsonl";
  std::ofstream(path) << R"({"question": "q", "answer": true, "passage": "p", "x": 5e99999})" << "\n";
  for (const char* format : {"jsonl", "boolq", "arc", "hellaswag", "piqa", "winogrande"}) {
    auto t = ImportTask(format, path);
    ASSERT_FALSE(t.ok()) << format;
    EXPECT_NE(std::string(t.status().message()).find("huge_number.jsonl:1: invalid JSON"), std::string::npos)
        << t.status();
  }
}

}  // namespace
}  // namespace qsweep::tasks
