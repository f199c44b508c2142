#include "metrics/choice_scores.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

TEST(ChoiceScores, AcceptsValidWithPadding) {
  OwnedChoiceScores s({{-1, -2, -3}, {-4, -5}}, {2, 1}, {{1, 2, 3}, {4, 5}});
  EXPECT_TRUE(ValidateChoiceScores(s.View()).ok());
}

TEST(ChoiceScores, LabelOutOfRange) {
  OwnedChoiceScores s({{-1, -2, -3}, {-4, -5}}, {0, 2});  // sample 1 has 2 choices
  s.what = "base.h5:/tasks/arc";
  const absl::Status st = ValidateChoiceScores(s.View());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("base.h5:/tasks/arc"));
  EXPECT_THAT(st.message(), HasSubstr("sample 1 has label 2 out of range [0, 2)"));
  s.label[1] = -1;
  EXPECT_THAT(ValidateChoiceScores(s.View()).message(), HasSubstr("label -1 out of range"));
}

TEST(ChoiceScores, ZeroOrTooManyChoices) {
  OwnedChoiceScores s({{-1, -2}, {-3, -4}}, {0, 0});
  s.n_choices[1] = 0;
  const absl::Status st = ValidateChoiceScores(s.View());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("sample 1 has n_choices 0, must be in [1, 2]"));
  s.n_choices[1] = 3;
  EXPECT_THAT(ValidateChoiceScores(s.View()).message(), HasSubstr("n_choices 3"));
}

TEST(ChoiceScores, MismatchedSizes) {
  OwnedChoiceScores s({{-1, -2}, {-3, -4}}, {0, 0});
  s.label.pop_back();
  EXPECT_THAT(ValidateChoiceScores(s.View()).message(),
              HasSubstr("label has 1 entries, expected 2 samples"));
  OwnedChoiceScores t({{-1, -2}, {-3, -4}}, {0, 0});
  t.logprob.pop_back();
  EXPECT_THAT(ValidateChoiceScores(t.View()).message(),
              HasSubstr("choice_logprob has 3 entries, expected 2 x 2"));
  OwnedChoiceScores u({{-1, -2}, {-3, -4}}, {0, 0}, {{1, 1}, {1, 1}});
  u.bytes.push_back(1);
  EXPECT_THAT(ValidateChoiceScores(u.View()).message(), HasSubstr("choice_bytes has 5 entries"));
}

TEST(ChoiceScores, BadValues) {
  OwnedChoiceScores s({{-1, std::nan("")}}, {0});
  EXPECT_THAT(ValidateChoiceScores(s.View()).message(), HasSubstr("sample 0 choice 1 has log-prob nan"));
  const double inf = INFINITY;
  OwnedChoiceScores t({{-inf, -inf}}, {0});
  EXPECT_THAT(ValidateChoiceScores(t.View()).message(), HasSubstr("no finite choice log-prob"));
  OwnedChoiceScores u({{-1, -2}}, {0}, {{3, 0}});
  EXPECT_THAT(ValidateChoiceScores(u.View()).message(), HasSubstr("0 continuation bytes"));
}

TEST(ChoiceScores, PairedRefusesOtherTaskSet) {
  OwnedChoiceScores b({{-1, -2}, {-3, -4}}, {0, 1});
  OwnedChoiceScores q({{-1, -2}, {-3, -4}}, {0, 0});
  q.what = "w4.h5:/tasks/arc";
  const absl::Status st = ValidatePairedChoiceScores(b.View(), q.View());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("w4.h5:/tasks/arc sample 1"));
  EXPECT_THAT(st.message(), HasSubstr("not the same task set"));
  OwnedChoiceScores r({{-1, -2}}, {0});
  EXPECT_THAT(ValidatePairedChoiceScores(b.View(), r.View()).message(),
              HasSubstr("has 1 samples but baseline test has 2"));
  EXPECT_TRUE(ValidatePairedChoiceScores(b.View(), b.View()).ok());
}

}  // namespace
}  // namespace qsweep::metrics
