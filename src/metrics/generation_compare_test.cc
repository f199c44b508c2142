#include "metrics/generation_compare.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep::metrics {
namespace {

using Tokens = std::vector<int32_t>;

GenerationPair Compare(const Tokens& a, const Tokens& b) { return CompareGenerations(a, b); }

TEST(CompareGenerations, Identical) {
  const GenerationPair p = Compare({5, 6, 7}, {5, 6, 7});
  EXPECT_EQ(p.first_difference, -1);
  EXPECT_DOUBLE_EQ(p.token_agreement, 1.0);
}

TEST(CompareGenerations, BothEmpty) {
  const GenerationPair p = Compare({}, {});
  EXPECT_EQ(p.first_difference, -1);
  EXPECT_DOUBLE_EQ(p.token_agreement, 1.0);
}

TEST(CompareGenerations, OneEmpty) {
  const GenerationPair p = Compare({}, {1, 2});
  EXPECT_EQ(p.first_difference, 0);
  EXPECT_DOUBLE_EQ(p.token_agreement, 0.0);
}

TEST(CompareGenerations, PrefixEitherWay) {
  // 3 of the 5 positions of the longer have an equal token in both.
  for (const auto& [a, b] : {std::pair<Tokens, Tokens>{{1, 2, 3}, {1, 2, 3, 4, 5}}, {{1, 2, 3, 4, 5}, {1, 2, 3}}}) {
    const GenerationPair p = Compare(a, b);
    EXPECT_EQ(p.first_difference, 3);
    EXPECT_DOUBLE_EQ(p.token_agreement, 0.6);
  }
}

TEST(CompareGenerations, DifferAtZero) {
  const GenerationPair p = Compare({9, 2, 3, 4}, {8, 2, 3, 4});
  EXPECT_EQ(p.first_difference, 0);
  EXPECT_DOUBLE_EQ(p.token_agreement, 0.75);  // positions 1..3 still agree
}

TEST(CompareGenerations, DifferInTheMiddle) {
  const GenerationPair p = Compare({1, 2, 3, 4, 5, 6}, {1, 2, 0, 4, 0, 6});
  EXPECT_EQ(p.first_difference, 2);
  EXPECT_DOUBLE_EQ(p.token_agreement, 4.0 / 6.0);
}

TEST(CompareGenerations, DifferentLengthsAndContent) {
  // Agree at 0 and 2; the candidate's extra 2 tokens count against it.
  const GenerationPair p = Compare({1, 7, 3, 4}, {1, 2, 3, 5, 6, 7});
  EXPECT_EQ(p.first_difference, 1);
  EXPECT_DOUBLE_EQ(p.token_agreement, 2.0 / 6.0);
}

// The definitions, spelled out position by position over the longer sequence.
GenerationPair BruteForce(const Tokens& a, const Tokens& b) {
  auto at = [](const Tokens& t, size_t i) -> std::optional<int32_t> {
    return i < t.size() ? std::optional<int32_t>(t[i]) : std::nullopt;
  };
  const size_t n = std::max(a.size(), b.size());
  GenerationPair p;
  int64_t agree = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto x = at(a, i), y = at(b, i);
    const bool same = x.has_value() && y.has_value() && *x == *y;
    agree += same;
    if (!same && p.first_difference == -1) p.first_difference = static_cast<int64_t>(i);
  }
  p.token_agreement = n == 0 ? 1.0 : agree / static_cast<double>(n);
  return p;
}

TEST(CompareGenerations, RandomizedAgainstBruteForce) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> len(0, 12), tok(0, 3), coin(0, 3);
  for (int trial = 0; trial < 5000; ++trial) {
    Tokens a(len(rng));
    for (auto& t : a) t = tok(rng);
    // Often a copy with edits, so that long shared prefixes and identical pairs occur.
    Tokens b = a;
    if (coin(rng) == 0) {
      b.resize(len(rng));
      for (auto& t : b) t = tok(rng);
    } else {
      for (int e = coin(rng); e > 0; --e) {
        if (!b.empty() && coin(rng) < 2) b[std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng)] = tok(rng);
        else if (coin(rng) < 2) b.push_back(tok(rng));
        else if (!b.empty()) b.pop_back();
      }
    }
    const GenerationPair got = Compare(a, b), want = BruteForce(a, b);
    ASSERT_EQ(got.first_difference, want.first_difference) << "trial " << trial;
    ASSERT_NEAR(got.token_agreement, want.token_agreement, 1e-15) << "trial " << trial;
    // Symmetric in its arguments.
    const GenerationPair swapped = Compare(b, a);
    ASSERT_EQ(swapped.first_difference, got.first_difference);
    ASSERT_DOUBLE_EQ(swapped.token_agreement, got.token_agreement);
    ASSERT_EQ(got.first_difference == -1, a == b);
  }
}

TEST(SummarizeGenerations, SmallHandExample) {
  // 4 samples. base correct 1 1 0 0, cand correct 1 0 1 0:
  // one correct->incorrect (sample 1), one incorrect->correct (sample 2).
  const std::vector<uint8_t> base = {1, 1, 0, 0}, cand = {1, 0, 1, 0};
  const std::vector<GenerationPair> pairs = {
      Compare({1, 2, 3}, {1, 2, 3}),     // identical, agreement 1
      Compare({1, 2, 3}, {1, 9, 3}),     // differs at 1, agreement 2/3
      Compare({4, 5}, {4, 5, 6, 7}),     // differs at 2, agreement 1/2
      Compare({}, {}),                   // identical, agreement 1
  };
  const GenerationSummary s = SummarizeGenerations(base, cand, pairs);
  EXPECT_EQ(s.samples, 4);
  EXPECT_DOUBLE_EQ(s.base_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(s.cand_accuracy, 0.5);
  EXPECT_EQ(s.correct_to_incorrect, 1);
  EXPECT_EQ(s.incorrect_to_correct, 1);
  EXPECT_DOUBLE_EQ(s.identical, 0.5);
  EXPECT_DOUBLE_EQ(s.mean_token_agreement, (1.0 + 2.0 / 3.0 + 0.5 + 1.0) / 4.0);
  EXPECT_DOUBLE_EQ(s.mean_first_difference, 1.5);  // (1 + 2) / 2
}

TEST(SummarizeGenerations, NoDifferenceAndNoSamples) {
  const std::vector<uint8_t> yes = {1, 3};  // any nonzero is correct
  const std::vector<GenerationPair> same = {GenerationPair{}, GenerationPair{}};
  const GenerationSummary s = SummarizeGenerations(yes, yes, same);
  EXPECT_DOUBLE_EQ(s.base_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(s.identical, 1.0);
  EXPECT_TRUE(std::isnan(s.mean_first_difference));
  const GenerationSummary empty = SummarizeGenerations({}, {}, {});
  EXPECT_EQ(empty.samples, 0);
  EXPECT_TRUE(std::isnan(empty.base_accuracy));
  EXPECT_TRUE(std::isnan(empty.mean_token_agreement));
  EXPECT_TRUE(std::isnan(empty.mean_first_difference));
}

TEST(SummarizeGenerationsDeathTest, MismatchedSizesAreABug) {
  const std::vector<uint8_t> two = {1, 0}, one = {1};
  const std::vector<GenerationPair> pairs(2);
  EXPECT_DEATH(SummarizeGenerations(two, one, pairs), "size");
  EXPECT_DEATH(SummarizeGenerations(two, two, std::span<const GenerationPair>(pairs).first(1)), "size");
}

}  // namespace
}  // namespace qsweep::metrics
