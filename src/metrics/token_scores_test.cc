#include "metrics/token_scores.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

OwnedTokenScores TwoTokens() {
  OwnedTokenScores s;
  s.what = "w4.h5:/ppl/wiki";
  s.k = 2;
  s.nll = {0.5f, 1.0f};
  s.topk_id = {3, 1, 0, 2};
  s.topk_logprob = {-0.2f, -2.0f, -0.7f, -0.9f};
  s.token_id = {3, 2};
  return s;
}

TEST(TokenScores, AcceptsValid) { EXPECT_TRUE(ValidateTokenScores(TwoTokens().View()).ok()); }

TEST(TokenScores, BadInputs) {
  auto s = TwoTokens();
  s.topk_id.pop_back();
  EXPECT_THAT(ValidateTokenScores(s.View()).message(),
              HasSubstr("w4.h5:/ppl/wiki: topk_id has 3 entries, expected 2 x 2"));
  s = TwoTokens();
  s.topk_logprob[3] = -0.1f;  // above -0.7
  EXPECT_THAT(ValidateTokenScores(s.View()).message(), HasSubstr("token 1 top-K log-probs not sorted"));
  s = TwoTokens();
  s.nll[0] = -1.0f;
  EXPECT_THAT(ValidateTokenScores(s.View()).message(), HasSubstr("token 0 has nll -1"));
  s = TwoTokens();
  s.topk_logprob[0] = 0.5f;
  EXPECT_THAT(ValidateTokenScores(s.View()).message(), HasSubstr("not a log-probability"));
  s = TwoTokens();
  s.k = 0;
  EXPECT_EQ(ValidateTokenScores(s.View()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenScores, PairedRefusesOtherStream) {
  auto b = TwoTokens();
  auto q = TwoTokens();
  q.token_id[1] = 9;
  EXPECT_THAT(ValidatePairedTokenScores(b.View(), q.View()).message(),
              HasSubstr("token 1 is id 9 but baseline"));
  q = TwoTokens();
  q.nll.pop_back();
  q.topk_id.resize(2);
  q.topk_logprob.resize(2);
  q.token_id.pop_back();
  EXPECT_THAT(ValidatePairedTokenScores(b.View(), q.View()).message(),
              HasSubstr("has 1 tokens but baseline"));
}

}  // namespace
}  // namespace qsweep::metrics
