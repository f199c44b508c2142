#include "metrics/bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

struct Sample {
  std::vector<uint8_t> base, cand;
  std::vector<double> kl;
};

Sample MakeSample(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Sample s;
  for (int i = 0; i < n; ++i) {
    const bool b = rng() % 10 < 7;
    const bool flip = rng() % 10 < 2;
    s.base.push_back(b);
    s.cand.push_back(flip ? !b : b);
    s.kl.push_back(static_cast<double>(rng() % 1000) / 1000.0);
  }
  return s;
}

TEST(Bootstrap, UniformIndexInRangeAndEven) {
  std::mt19937_64 rng(1);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t k = UniformIndex(rng, 7);
    ASSERT_LT(k, 7u);
    ++hist[k];
  }
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);  // ~5 sd of a binomial(70000, 1/7)
  EXPECT_EQ(UniformIndex(rng, 1), 0u);
}

TEST(Bootstrap, UniformIndexIsFixedByMt19937) {
  // mt19937_64's 10000th output from the default seed is fixed by the standard
  // (9981545732273789042); with n = 2^k the index is that value mod 2^k.
  std::mt19937_64 rng;  // default seed 5489
  rng.discard(9999);
  EXPECT_EQ(UniformIndex(rng, uint64_t{1} << 20), 9981545732273789042ull % (1u << 20));
}

TEST(Bootstrap, DeterministicPerSeed) {
  const Sample s = MakeSample(500, 3);
  BootstrapOptions o;
  o.seed = 42;
  auto a = BootstrapChoiceMetrics(s.base, s.cand, s.kl, o);
  auto b = BootstrapChoiceMetrics(s.base, s.cand, s.kl, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->delta_accuracy.lo, b->delta_accuracy.lo);
  EXPECT_EQ(a->delta_accuracy.hi, b->delta_accuracy.hi);
  EXPECT_EQ(a->mean_kl.lo, b->mean_kl.lo);
  EXPECT_EQ(a->flip_rate.hi, b->flip_rate.hi);
  o.seed = 43;
  auto c = BootstrapChoiceMetrics(s.base, s.cand, s.kl, o);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(a->mean_kl.lo != c->mean_kl.lo || a->mean_kl.hi != c->mean_kl.hi);
}

TEST(Bootstrap, IntervalsCoverEstimatesAndAreSane) {
  const Sample s = MakeSample(2000, 5);
  auto r = BootstrapChoiceMetrics(s.base, s.cand, s.kl, BootstrapOptions{});
  ASSERT_TRUE(r.ok());
  double nb = 0, nq = 0, flips = 0, c2i = 0, kl = 0;
  for (size_t i = 0; i < s.base.size(); ++i) {
    nb += s.base[i];
    nq += s.cand[i];
    flips += s.base[i] != s.cand[i];
    c2i += s.base[i] && !s.cand[i];
    kl += s.kl[i];
  }
  const double n = s.base.size();
  EXPECT_DOUBLE_EQ(r->delta_accuracy.estimate, (nq - nb) / n);
  EXPECT_DOUBLE_EQ(r->flip_rate.estimate, flips / n);
  EXPECT_DOUBLE_EQ(r->correct_to_incorrect_rate.estimate, c2i / n);
  EXPECT_NEAR(r->mean_kl.estimate, kl / n, 1e-12);
  for (const Interval& iv : {r->delta_accuracy, r->flip_rate, r->correct_to_incorrect_rate,
                             r->incorrect_to_correct_rate, r->mean_kl}) {
    EXPECT_LE(iv.lo, iv.estimate);
    EXPECT_GE(iv.hi, iv.estimate);
    EXPECT_LT(iv.lo, iv.hi);
  }
  // Width of a 95% CI of a rate near 0.2 over 2000 samples: ~ 2 * 1.96 * sqrt(.2 * .8 / 2000) = 0.035.
  EXPECT_NEAR(r->flip_rate.hi - r->flip_rate.lo, 0.035, 0.008);
}

TEST(Bootstrap, PairingMakesIdenticalRunsExact) {
  // Resampling both runs with the same indices: identical runs give Δacc = 0 in
  // every replicate, so the interval is exactly [0, 0] (unpaired would not be).
  const Sample s = MakeSample(300, 9);
  std::vector<double> zeros(300, 0.0);
  auto r = BootstrapChoiceMetrics(s.base, s.base, zeros, BootstrapOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->delta_accuracy.lo, 0.0);
  EXPECT_EQ(r->delta_accuracy.hi, 0.0);
  EXPECT_EQ(r->flip_rate.hi, 0.0);
  EXPECT_EQ(r->mean_kl.hi, 0.0);
}

TEST(Bootstrap, BadInputs) {
  const std::vector<uint8_t> b = {1, 0}, q = {1};
  const std::vector<double> kl = {0, 0};
  EXPECT_THAT(BootstrapChoiceMetrics(b, q, kl, {}).status().message(),
              HasSubstr("baseline has 2 samples, candidate 1, answer KL 2"));
  BootstrapOptions o;
  o.replicates = 0;
  EXPECT_THAT(BootstrapChoiceMetrics(b, b, kl, o).status().message(), HasSubstr("0 replicates"));
  o = {};
  o.confidence = 1.5;
  EXPECT_EQ(BootstrapChoiceMetrics(b, b, kl, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(BootstrapChoiceMetrics({}, {}, {}, {}).status().message(), HasSubstr("no samples"));
}

}  // namespace
}  // namespace qsweep::metrics
