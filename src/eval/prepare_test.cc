#include "eval/prepare.h"

#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep {
namespace {

TEST(Prepare, SplitsContextAndContinuationAsLmEval) {
  auto tok = LoadTokenizer(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  tasks::McTask task;
  task.name = "t";
  task.samples.push_back({"a", {"15+40="}, {"55", "65"}, 0, ""});
  task.samples.push_back({"b", {"rev abc: "}, {"cba", "bca"}, 1, ""});  // trailing space moves
  auto rs = TokenizeRequests(**tok, {task}, {{"text", "max 3 9 2:9\n"}}, {.window = 8, .stride = 4});
  ASSERT_TRUE(rs.ok()) << rs.status();
  const int32_t bos = (*tok)->bos_id();
  ASSERT_GE(bos, 0);
  const auto& s0 = rs->tasks[0].samples[0];
  std::vector<int32_t> ctx = {bos};
  for (int32_t t : (*tok)->Encode("15+40=")) ctx.push_back(t);
  EXPECT_EQ(s0.contexts, std::vector<std::vector<int32_t>>{ctx});
  const auto whole = (*tok)->Encode("15+40=55");
  EXPECT_EQ(s0.continuations[0], std::vector<int32_t>(whole.begin() + ctx.size() - 1, whole.end()));
  EXPECT_EQ(s0.continuation_bytes, (std::vector<int64_t>{2, 2}));
  const auto& s1 = rs->tasks[0].samples[1];
  std::vector<int32_t> ctx1 = {bos};
  for (int32_t t : (*tok)->Encode("rev abc:")) ctx1.push_back(t);
  EXPECT_EQ(s1.contexts[0], ctx1);
  const auto whole1 = (*tok)->Encode("rev abc: cba");
  EXPECT_EQ(s1.continuations[0], std::vector<int32_t>(whole1.begin() + ctx1.size() - 1, whole1.end()));
  EXPECT_EQ(rs->corpora[0].tokens.front(), bos);
  EXPECT_EQ(rs->corpora[0].window, 8);
}

// acc_norm's length is lm-eval's len(choice): characters of the choice
// without the target delimiter, not bytes of the scored continuation.
TEST(Prepare, ChoiceLengthIsCharactersWithoutTheDelimiter) {
  auto tok = LoadTokenizer(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  tasks::McTask task;
  task.name = "t";
  task.samples.push_back(tasks::SharedContextSample("a", "Q:", {"max", "caf\xc3\xa9", "\xf0\x9f\x99\x82"}, 0));
  task.samples.push_back({"b", {"x _", "y _"}, {" tail", " tail"}, 1, " "});
  auto rs = TokenizeRequests(**tok, {task}, {}, {});
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->tasks[0].samples[0].continuation_bytes, (std::vector<int64_t>{3, 4, 1}));
  EXPECT_EQ(rs->tasks[0].samples[1].continuation_bytes, (std::vector<int64_t>{4, 4}));
}

TEST(Prepare, RejectsAnInvalidTask) {
  auto tok = LoadTokenizer(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(tok.ok());
  tasks::McTask task{"t", {{"a", {"Q:"}, {"yes"}, 0, " "}}};  // "yes" lacks the delimiter " "
  auto rs = TokenizeRequests(**tok, {task}, {}, {});
  ASSERT_FALSE(rs.ok());
  EXPECT_NE(rs.status().message().find("is not the target delimiter"), std::string::npos) << rs.status();
}

TEST(Prepare, RejectsBadWindows) {
  auto tok = LoadTokenizer(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(tok.ok());
  EXPECT_FALSE(TokenizeRequests(**tok, {}, {{"c", "text"}}, {.window = 8, .stride = 8}).ok());
}

}  // namespace
}  // namespace qsweep
