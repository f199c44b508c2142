#include "metrics/exact_token_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace qsweep::metrics {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Arrays that own what an ExactTokenStatsView points to.
struct OwnedStats {
  std::vector<double> kl_bc, kl_cb, nll_b, nll_c;
  std::vector<int32_t> top1, cand_topk;
  int64_t k = 1;

  ExactTokenStatsView View() const {
    return ExactTokenStatsView{"w4.h5:/ppl/wiki", static_cast<int64_t>(nll_b.size()), kl_bc, kl_cb,
                               nll_b, nll_c, top1, cand_topk, k};
  }
};

// T tokens with every candidate id list 0, 1, ..., K-1 and base top-1 0.
OwnedStats Plain(std::vector<double> nll_b, std::vector<double> nll_c, int64_t k = 1) {
  OwnedStats s;
  s.nll_b = std::move(nll_b);
  s.nll_c = std::move(nll_c);
  const size_t t = s.nll_b.size();
  s.kl_bc.assign(t, 0.0);
  s.kl_cb.assign(t, 0.0);
  s.top1.assign(t, 0);
  s.k = k;
  for (size_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < k; ++j) s.cand_topk.push_back(static_cast<int32_t>(j));
  return s;
}

TEST(ExactTokenStats, KlLadderKnownAnswers) {
  // 1001 values 0, 1, ..., 1000 (shuffled order): percentile q is 10 q exactly.
  std::vector<double> v(1001);
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(7));
  const KlLadder l = SummarizeKl(v);
  EXPECT_EQ(l.n, 1001);
  EXPECT_DOUBLE_EQ(l.mean, 500.0);
  // Sample variance of 0..N-1 is N (N + 1) / 12.
  EXPECT_NEAR(l.mean_stderr, std::sqrt(1001.0 * 1002.0 / 12.0 / 1001.0), 1e-9);
  EXPECT_DOUBLE_EQ(l.max, 1000.0);
  EXPECT_NEAR(l.p999, 999.0, 1e-9);
  EXPECT_NEAR(l.p99, 990.0, 1e-9);
  EXPECT_NEAR(l.p95, 950.0, 1e-9);
  EXPECT_NEAR(l.p90, 900.0, 1e-9);
  EXPECT_NEAR(l.median, 500.0, 1e-9);
  EXPECT_NEAR(l.p10, 100.0, 1e-9);
  EXPECT_NEAR(l.p5, 50.0, 1e-9);
  EXPECT_NEAR(l.p1, 10.0, 1e-9);
  EXPECT_NEAR(l.p01, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(l.min, 0.0);

  // (0.3, 0.1, 0.2, 0.4): sorted .1 .2 .3 .4, numpy linear: h = 3 q / 100.
  // median h = 1.5 -> .25; p90 h = 2.7 -> .37; p10 h = .3 -> .13; p99.9 h = 2.997 -> .3997.
  // mean .25; sample variance (2 (.15^2 + .05^2)) / 3 = .05 / 3; se = sqrt(.05 / 3 / 4).
  const std::vector<double> w = {0.3, 0.1, 0.2, 0.4};
  const KlLadder m = SummarizeKl(w);
  EXPECT_EQ(m.n, 4);
  EXPECT_NEAR(m.mean, 0.25, 1e-15);
  EXPECT_NEAR(m.mean_stderr, std::sqrt(0.05 / 12.0), 1e-15);
  EXPECT_NEAR(m.median, 0.25, 1e-15);
  EXPECT_NEAR(m.p90, 0.37, 1e-15);
  EXPECT_NEAR(m.p10, 0.13, 1e-15);
  EXPECT_NEAR(m.p999, 0.3997, 1e-15);
  EXPECT_DOUBLE_EQ(m.max, 0.4);
  EXPECT_DOUBLE_EQ(m.min, 0.1);

  // One value: every percentile is it, the stderr is NaN. None: NaN.
  const std::vector<double> one = {0.5};
  const KlLadder o = SummarizeKl(one);
  EXPECT_EQ(o.n, 1);
  EXPECT_DOUBLE_EQ(o.mean, 0.5);
  EXPECT_TRUE(std::isnan(o.mean_stderr));
  EXPECT_DOUBLE_EQ(o.p01, 0.5);
  EXPECT_DOUBLE_EQ(o.p999, 0.5);
  const KlLadder e = SummarizeKl({});
  EXPECT_EQ(e.n, 0);
  EXPECT_TRUE(std::isnan(e.mean));
  EXPECT_TRUE(std::isnan(e.median));
}

TEST(ExactTokenStats, IdenticalRuns) {
  OwnedStats s = Plain({1.0, 2.5, 0.25, 4.0, 0.0}, {1.0, 2.5, 0.25, 4.0, 0.0}, 10);
  auto r = SummarizeExactTokenStats(s.View());
  ASSERT_TRUE(r.ok()) << r.status();
  for (const KlLadder* l : {&r->kl_base_cand, &r->kl_cand_base}) {
    EXPECT_EQ(l->n, 5);
    for (double x : {l->mean, l->mean_stderr, l->max, l->p999, l->p99, l->p95, l->p90, l->median,
                     l->p10, l->p5, l->p1, l->p01, l->min})
      EXPECT_EQ(x, 0.0);
  }
  EXPECT_EQ(r->n_tokens, 5);
  EXPECT_DOUBLE_EQ(r->ppl_base, std::exp(7.75 / 5));
  EXPECT_DOUBLE_EQ(r->ppl_cand, r->ppl_base);
  EXPECT_EQ(r->ppl_ratio, 1.0);
  EXPECT_EQ(r->ppl_ratio_stderr, 0.0);
  EXPECT_EQ(r->ln_ppl_ratio, 0.0);
  EXPECT_EQ(r->ln_ppl_ratio_stderr, 0.0);
  EXPECT_EQ(r->ppl_diff, 0.0);
  EXPECT_NEAR(r->ppl_diff_stderr, 0.0, 1e-7);  // sqrt of a cancellation at the rounding level
  EXPECT_EQ(r->rms_dp, 0.0);
  EXPECT_EQ(r->rms_dp_stderr, 0.0);
  EXPECT_EQ(r->same_top1, 1.0);
  EXPECT_EQ(r->same_top1_stderr, 0.0);
  EXPECT_EQ(r->base_top1_in_cand_top5, 1.0);
  EXPECT_EQ(r->base_top1_in_cand_top10, 1.0);
}

TEST(ExactTokenStats, ConstantShiftOfNll) {
  // Every candidate nll is the baseline's + 0.5: ratio e^0.5 exactly, with no spread.
  OwnedStats s = Plain({1, 2, 3}, {1.5, 2.5, 3.5});
  auto r = SummarizeExactTokenStats(s.View());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->ln_ppl_ratio, 0.5, 1e-15);
  EXPECT_NEAR(r->ln_ppl_ratio_stderr, 0.0, 1e-15);
  EXPECT_NEAR(r->ppl_ratio, std::exp(0.5), 1e-14);
  EXPECT_NEAR(r->ppl_ratio_stderr, 0.0, 1e-14);
  EXPECT_NEAR(r->ppl_base, std::exp(2.0), 1e-13);
  EXPECT_NEAR(r->ppl_cand, std::exp(2.5), 1e-13);
  EXPECT_NEAR(r->ppl_diff, std::exp(2.5) - std::exp(2.0), 1e-13);
  // nll_c = nll_b + .5: se_c = se_b = cov^(1/2) = 1 / sqrt(3) (sample sd 1), so
  // var(diff) = (PPL_c - PPL_b)^2 / 3.
  EXPECT_NEAR(r->ppl_diff_stderr, (std::exp(2.5) - std::exp(2.0)) / std::sqrt(3.0), 1e-12);
  // K = 1: top-5 and top-10 shares cannot be told.
  EXPECT_TRUE(std::isnan(r->base_top1_in_cand_top5));
  EXPECT_TRUE(std::isnan(r->base_top1_in_cand_top10));
}

// Against the formulas computed another way: llama.cpp's one-pass sums.
TEST(ExactTokenStats, StandardErrorsAgainstDirectFormulas) {
  std::mt19937_64 rng(3);
  std::gamma_distribution<double> gamma(2.0, 1.0);
  std::normal_distribution<double> normal(0.0, 0.3);
  std::exponential_distribution<double> expo(200.0);
  OwnedStats s;
  const int t_count = 997;
  s.k = 7;
  for (int t = 0; t < t_count; ++t) {
    const double b = gamma(rng);
    s.nll_b.push_back(b);
    s.nll_c.push_back(std::max(0.0, b + 0.05 + normal(rng)));
    s.kl_bc.push_back(expo(rng));
    s.kl_cb.push_back(expo(rng));
    s.top1.push_back(static_cast<int32_t>(rng() % 4));
    for (int j = 0; j < s.k; ++j) s.cand_topk.push_back(static_cast<int32_t>((j + rng() % 3) % 9));
  }
  auto r = SummarizeExactTokenStats(s.View());
  ASSERT_TRUE(r.ok()) << r.status();

  const double n = t_count;
  double sb = 0, sb2 = 0, sc = 0, sc2 = 0, sbc = 0, sd = 0, sd2 = 0, sp2 = 0, sp4 = 0, skl = 0,
         skl2 = 0;
  int same = 0, in5 = 0;
  for (int t = 0; t < t_count; ++t) {
    const double b = s.nll_b[t], c = s.nll_c[t];
    sb += b, sb2 += b * b, sc += c, sc2 += c * c, sbc += b * c;
    sd += c - b, sd2 += (c - b) * (c - b);
    const double dp = std::exp(-c) - std::exp(-b);
    sp2 += dp * dp, sp4 += dp * dp * dp * dp;
    skl += s.kl_cb[t], skl2 += s.kl_cb[t] * s.kl_cb[t];
    same += s.cand_topk[t * s.k] == s.top1[t];
    bool found = false;
    for (int j = 0; j < 5; ++j) found |= s.cand_topk[t * s.k + j] == s.top1[t];
    in5 += found;
  }
  // llama.cpp: se = sqrt((sum2 / n - mean^2) / (n - 1)), cov = (sum_ab / n - ma mb) / (n - 1).
  auto se = [&](double sum, double sum2) {
    return std::sqrt((sum2 / n - (sum / n) * (sum / n)) / (n - 1));
  };
  const double se_b = se(sb, sb2), se_c = se(sc, sc2);
  const double cov = (sbc / n - (sb / n) * (sc / n)) / (n - 1);
  const double ppl_b = std::exp(sb / n), ppl_c = std::exp(sc / n);
  EXPECT_NEAR(r->ppl_base, ppl_b, 1e-12 * ppl_b);
  EXPECT_NEAR(r->ppl_cand, ppl_c, 1e-12 * ppl_c);
  EXPECT_NEAR(r->ln_ppl_ratio, sd / n, 1e-12);
  // se(mean d) two ways: from the differences, and from se_b, se_c and their covariance.
  EXPECT_NEAR(r->ln_ppl_ratio_stderr, se(sd, sd2), 1e-10);
  EXPECT_NEAR(r->ln_ppl_ratio_stderr, std::sqrt(se_c * se_c + se_b * se_b - 2 * cov), 1e-10);
  EXPECT_NEAR(r->ppl_ratio, ppl_c / ppl_b, 1e-12);
  EXPECT_NEAR(r->ppl_ratio_stderr, (ppl_c / ppl_b) * se(sd, sd2), 1e-10);
  // The gradient of PPL_c - PPL_b in (mean nll_c, mean nll_b) is (PPL_c, -PPL_b).
  const double var_diff = ppl_c * ppl_c * se_c * se_c + ppl_b * ppl_b * se_b * se_b -
                          2 * ppl_c * ppl_b * cov;
  EXPECT_NEAR(r->ppl_diff, ppl_c - ppl_b, 1e-12);
  EXPECT_NEAR(r->ppl_diff_stderr, std::sqrt(var_diff), 1e-9);
  const double rms = std::sqrt(sp2 / n);
  EXPECT_NEAR(r->rms_dp, rms, 1e-12);
  EXPECT_NEAR(r->rms_dp_stderr, se(sp2, sp4) / (2 * rms), 1e-10);
  EXPECT_NEAR(r->kl_cand_base.mean, skl / n, 1e-15);
  EXPECT_NEAR(r->kl_cand_base.mean_stderr, se(skl, skl2), 1e-12);
  const double f = same / n;
  EXPECT_DOUBLE_EQ(r->same_top1, f);
  EXPECT_NEAR(r->same_top1_stderr, std::sqrt(f * (1 - f) / n), 1e-15);
  EXPECT_DOUBLE_EQ(r->base_top1_in_cand_top5, in5 / n);
  EXPECT_TRUE(std::isnan(r->base_top1_in_cand_top10));  // K = 7 < 10
  EXPECT_GT(r->ppl_diff_stderr, 0.0);
  EXPECT_GT(f, 0.0);
  EXPECT_LT(f, 1.0);
}

TEST(ExactTokenStats, TopRanks) {
  // K = 12; base top-1 7 at rank 0, 3, 4, 5, 9, 10 and absent: same top-1 1/7,
  // in top-5 3/7 (ranks 0, 3, 4), in top-10 5/7.
  OwnedStats s;
  s.k = 12;
  for (int rank : {0, 3, 4, 5, 9, 10, -1}) {
    s.nll_b.push_back(1.0);
    s.nll_c.push_back(1.0);
    s.kl_bc.push_back(0.0);
    s.kl_cb.push_back(0.0);
    s.top1.push_back(7);
    for (int j = 0; j < s.k; ++j) s.cand_topk.push_back(j == rank ? 7 : 100 + j);
  }
  auto r = SummarizeExactTokenStats(s.View());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->same_top1, 1.0 / 7);
  EXPECT_NEAR(r->same_top1_stderr, std::sqrt((1.0 / 7) * (6.0 / 7) / 7), 1e-15);
  EXPECT_DOUBLE_EQ(r->base_top1_in_cand_top5, 3.0 / 7);
  EXPECT_DOUBLE_EQ(r->base_top1_in_cand_top10, 5.0 / 7);
}

TEST(ExactTokenStats, OneTokenHasNaNStandardErrors) {
  OwnedStats s = Plain({1.0}, {2.0}, 5);
  auto r = SummarizeExactTokenStats(s.View());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->ppl_ratio, std::exp(1.0), 1e-14);
  for (double x : {r->kl_base_cand.mean_stderr, r->ppl_ratio_stderr, r->ln_ppl_ratio_stderr,
                   r->ppl_diff_stderr, r->rms_dp_stderr, r->same_top1_stderr})
    EXPECT_TRUE(std::isnan(x));
  EXPECT_EQ(r->base_top1_in_cand_top5, 1.0);
}

TEST(ExactTokenStats, BadInputs) {
  const OwnedStats good = Plain({1, 2, 3}, {1, 2, 3}, 2);
  ASSERT_TRUE(SummarizeExactTokenStats(good.View()).ok());
  auto message = [](const OwnedStats& s) {
    return std::string(SummarizeExactTokenStats(s.View()).status().message());
  };
  {
    OwnedStats s = good;
    s.kl_cb.pop_back();
    EXPECT_THAT(message(s), AllOf(HasSubstr("w4.h5:/ppl/wiki"), HasSubstr("kl_cand_base has 2 entries")));
  }
  {
    OwnedStats s = good;
    s.cand_topk.push_back(0);
    EXPECT_THAT(message(s), HasSubstr("topk_id has 7 entries, expected 3 x 2"));
  }
  {
    OwnedStats s = good;
    s.top1.push_back(0);
    EXPECT_THAT(message(s), HasSubstr("base_top1 has 4 entries"));
  }
  {
    OwnedStats s = good;
    s.kl_bc[2] = std::nan("");
    EXPECT_THAT(message(s), AllOf(HasSubstr("w4.h5:/ppl/wiki"), HasSubstr("token 2"),
                                  HasSubstr("KL(base||cand)")));
  }
  {
    OwnedStats s = good;
    s.kl_cb[1] = -1e-15;  // the producer clamps its rounding: even a tiny negative is an error
    EXPECT_THAT(message(s), AllOf(HasSubstr("token 1"), HasSubstr("KL(cand||base)")));
  }
  {
    OwnedStats s = good;
    s.kl_bc[0] = INFINITY;
    EXPECT_THAT(message(s), HasSubstr("token 0 has KL(base||cand) inf"));
  }
  {
    OwnedStats s = good;
    s.nll_c[1] = -0.5;
    EXPECT_THAT(message(s), HasSubstr("token 1 has candidate nll"));
  }
  {
    OwnedStats s = good;
    s.nll_b[2] = std::nan("");
    EXPECT_THAT(message(s), HasSubstr("token 2 has baseline nll"));
  }
  {
    OwnedStats s = good;
    s.cand_topk[3] = -1;
    EXPECT_THAT(message(s), HasSubstr("token 1 candidate top-1 id -1"));
  }
  {
    OwnedStats s = good;
    s.k = 0;
    EXPECT_THAT(message(s), HasSubstr("top-K is 0"));
  }
  EXPECT_EQ(SummarizeExactTokenStats(Plain({}, {}).View()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qsweep::metrics
