#include "metrics/token_kl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "metrics/owned_scores_for_test.h"

namespace qsweep::metrics {
namespace {

using ::testing::HasSubstr;

// Appends one token's top-K (ids and log-probs, sorted descending) of `logprob` to `s`.
void AppendTopK(const std::vector<float>& logprob, int k, OwnedTokenScores& s) {
  std::vector<int32_t> order(logprob.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logprob[a] > logprob[b]; });
  for (int j = 0; j < k; ++j) {
    s.topk_id.push_back(order[j]);
    s.topk_logprob.push_back(logprob[order[j]]);
  }
  s.k = k;
  s.nll.push_back(-logprob[0]);  // pretend token 0 came next
}

// The view of log-probs of distributions normalized in double, then stored as
// float: their log-sum-exp is 0, which tells TopKTokenKl their error is only
// the float rounding (without it, it must assume |lse| up to 64).
TokenScores NormalizedView(const OwnedTokenScores& s) {
  static const std::vector<float> zeros(4096, 0.0f);
  TokenScores v = s.View();
  v.logsumexp = std::span<const float>(zeros).first(s.nll.size());
  return v;
}

std::vector<float> LogProbs(std::vector<double> p) {
  std::vector<float> out;
  for (double v : p) out.push_back(static_cast<float>(std::log(v)));
  return out;
}

TEST(TokenKl, ExactKnownAnswer) {
  // KL([.5, .5] || [.9, .1]) = .5 ln(.5/.9) + .5 ln(.5/.1) = 0.5108256.
  // Rows need not be normalized: the second token uses logits (base +7, cand -2).
  std::vector<float> b = LogProbs({.5, .5}), q = LogProbs({.9, .1});
  for (float v : LogProbs({.5, .5})) b.push_back(v + 7);
  for (float v : LogProbs({.9, .1})) q.push_back(v - 2);
  auto kl = ExactTokenKl(b, q, 2);
  ASSERT_TRUE(kl.ok());
  ASSERT_EQ(kl->size(), 2u);
  EXPECT_NEAR((*kl)[0], 0.5108256, 1e-6);
  EXPECT_NEAR((*kl)[1], 0.5108256, 1e-6);
}

TEST(TokenKl, TopKKnownAnswer) {
  // V = 3, base p = (.5, .3, .2), cand q = (.2, .5, .3), K = 2 for both.
  // Base top-2 ids {0, 1}; cand top-2 ids {1, 2}: q known only for id 1, so the
  // buckets are {1} and rest = {0, 2}: P = (.3, .7), Q = (.5, .5):
  //   bound = .3 ln(.3/.5) + .7 ln(.7/.5) = -0.153248 + 0.235531 = 0.082283;
  //   exact = .5 ln(.5/.2) + .3 ln(.3/.5) + .2 ln(.2/.3) = 0.223804 (>= bound).
  OwnedTokenScores b, q;
  AppendTopK(LogProbs({.5, .3, .2}), 2, b);
  AppendTopK(LogProbs({.2, .5, .3}), 2, q);
  auto bound = TopKTokenKl(NormalizedView(b), NormalizedView(q));
  ASSERT_TRUE(bound.ok()) << bound.status();
  // The bound gives up its rounding allowance (~2 eps, eps ~ 2^-23 (|lp| + 8)): 3e-6.
  EXPECT_NEAR((*bound)[0], 0.3 * std::log(0.3 / 0.5) + 0.7 * std::log(0.7 / 0.5), 3e-6);
  EXPECT_NEAR((*bound)[0], 0.082283, 3e-6);
  EXPECT_LE((*bound)[0], 0.3 * std::log(0.3 / 0.5) + 0.7 * std::log(0.7 / 0.5));
  // With K = 3 = V the bound is the exact KL.
  OwnedTokenScores b3, q3;
  AppendTopK(LogProbs({.5, .3, .2}), 3, b3);
  AppendTopK(LogProbs({.2, .5, .3}), 3, q3);
  auto full = TopKTokenKl(NormalizedView(b3), NormalizedView(q3));
  ASSERT_TRUE(full.ok());
  EXPECT_NEAR((*full)[0], 0.223804, 3e-6);
  EXPECT_LE((*full)[0], .5 * std::log(.5 / .2) + .3 * std::log(.3 / .5) + .2 * std::log(.2 / .3));
  // The simple case of the brief: all of the base's top-K known -> base top-K + tail.
  // base top-1 {0: .5}, cand top-2 {1: .5, 2: .3}... id 0 unknown -> everything in rest: 0.
  OwnedTokenScores b1;
  AppendTopK(LogProbs({.5, .3, .2}), 1, b1);
  auto none = TopKTokenKl(NormalizedView(b1), NormalizedView(q));
  ASSERT_TRUE(none.ok());
  EXPECT_NEAR((*none)[0], 0.0, 1e-7);
}

// Random distributions: top-K KL never exceeds the exact KL, and equals it at K = V.
TEST(TokenKl, TopKIsALowerBoundOnRandomDistributions) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    const int v = 2 + static_cast<int>(rng() % 60);
    const int t_count = 5;
    const double scale = 0.5 + 4.0 * static_cast<double>(rng() % 100) / 100.0;
    const double noise = static_cast<double>(rng() % 100) / 50.0;  // 0 .. 2
    std::vector<float> rows_b, rows_q;
    std::vector<std::vector<float>> lb(t_count), lq(t_count);
    for (int t = 0; t < t_count; ++t) {
      std::vector<double> xb(v), xq(v);
      for (int i = 0; i < v; ++i) {
        xb[i] = scale * normal(rng);
        xq[i] = xb[i] + noise * normal(rng);
      }
      for (auto* pair : {&xb, &xq}) {  // normalize to log-probs in double, then store as float
        double m = *std::max_element(pair->begin(), pair->end()), s = 0;
        for (double x : *pair) s += std::exp(x - m);
        for (double& x : *pair) x -= m + std::log(s);
      }
      for (int i = 0; i < v; ++i) {
        lb[t].push_back(static_cast<float>(xb[i]));
        lq[t].push_back(static_cast<float>(xq[i]));
      }
      rows_b.insert(rows_b.end(), lb[t].begin(), lb[t].end());
      rows_q.insert(rows_q.end(), lq[t].begin(), lq[t].end());
    }
    auto exact = ExactTokenKl(rows_b, rows_q, v);
    ASSERT_TRUE(exact.ok());
    for (int k : {1, std::max(1, v / 4), std::max(1, v / 2), v - 1, v}) {
      if (k < 1) continue;
      const int kq = std::min(v, k + static_cast<int>(rng() % 3));  // K may differ per run
      OwnedTokenScores b, q;
      for (int t = 0; t < t_count; ++t) {
        AppendTopK(lb[t], k, b);
        AppendTopK(lq[t], kq, q);
      }
      auto bound = TopKTokenKl(NormalizedView(b), NormalizedView(q));
      ASSERT_TRUE(bound.ok()) << bound.status();
      for (int t = 0; t < t_count; ++t) {
        EXPECT_LE((*bound)[t], (*exact)[t] + 1e-6) << ((*bound)[t] - (*exact)[t]) << " seed " << seed << " V " << v << " K " << k;
        if (k == v) {
          EXPECT_NEAR((*bound)[t], (*exact)[t], 1e-5) << "seed " << seed << " V " << v;
        }
      }
    }
  }
}

// What a producer (model/row_scores.cc) does with one row of fp32 logits:
// the fp32 sum of exponentials off by `device_rel_error` (the device's expf
// and its cast to fp32), lse = gmax + log(sum), and every stored log-prob
// logit - lse. Lossy: lse = gmax + float(log(sum)) in fp32 and the fp32
// subtraction float(logit) - float(lse); else lse in fp64 and each log-prob
// rounded once to fp32.
struct ProducedRow {
  float lse = 0;
  std::vector<float> logprob;
};

ProducedRow Produce(const std::vector<float>& logit, double device_rel_error, bool lossy = true) {
  const float gmax = *std::max_element(logit.begin(), logit.end());
  double sum = 0.0;
  for (float x : logit) sum += std::exp(double{x} - gmax);
  const float sum_f = static_cast<float>(sum * (1.0 + device_rel_error));
  ProducedRow r;
  if (lossy) {
    r.lse = gmax + static_cast<float>(std::log(double{sum_f}));
    for (float x : logit) r.logprob.push_back(x - r.lse);  // fp32 arithmetic
  } else {
    const double lse = gmax + std::log(double{sum_f});
    r.lse = static_cast<float>(lse);
    for (float x : logit) r.logprob.push_back(static_cast<float>(x - lse));
  }
  return r;
}

// KL(softmax(b) || softmax(q)) of fp32 logits, in long double: the truth.
double TrueKl(const std::vector<float>& b, const std::vector<float>& q) {
  auto lse = [](const std::vector<float>& x) {
    long double m = *std::max_element(x.begin(), x.end()), s = 0;
    for (float v : x) s += std::exp(static_cast<long double>(v) - m);
    return m + std::log(s);
  };
  const long double lb = lse(b), lq = lse(q);
  long double kl = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const long double lp = b[i] - lb;
    kl += std::exp(lp) * (lp - (q[i] - lq));
  }
  return static_cast<double>(std::max<long double>(0, kl));
}

// The coarse-grained KL at the stored values, as TopKTokenKl computed it
// before it allowed for their rounding (Q(R) raised by |A| 2^-22): not a bound.
double UncorrectedTopKKl(const TokenScores& b, const TokenScores& q, int64_t t) {
  double s = 0, p_known = 0, q_known = 0;
  int n_known = 0;
  for (int64_t i = 0; i < b.top_k; ++i) {
    int64_t j = 0;
    while (j < q.top_k && q.TopId(t, j) != b.TopId(t, i)) ++j;
    if (j == q.top_k) continue;
    const double lp = b.TopLogProb(t, i), lq = q.TopLogProb(t, j), p = std::exp(lp);
    ++n_known;
    p_known += p;
    q_known += std::exp(lq);
    s += p * (lp - lq);
  }
  const double p_rest = std::max(0.0, 1.0 - p_known);
  const double q_rest = std::max(0.0, 1.0 - q_known) + n_known * 0x1p-22;
  if (p_rest > 0) s += p_rest * (std::log(p_rest) - std::log(q_rest));
  return std::max(0.0, s);
}

// Random logits for both models (candidate = baseline + noise of several
// scales, identical included), lse from ~0 to +-30 by an offset, stored the
// lossy way: the bound is <= the true KL for every token, >= 0, and close.
TEST(TokenKl, TopKIsALowerBoundOfTheTrueKlDespiteRounding) {
  std::mt19937_64 rng(20240611);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  constexpr double kNormalized = 1e9;  // offset marker: logits shifted so that lse ~ 0
  int64_t tokens = 0, uncorrected_over = 0, uncorrected_over_lse30 = 0, tokens_lse30 = 0;
  double worst_gap_tiny_lse = 0, worst_gap_lse30 = 0;
  for (double offset : {kNormalized, 10.0, -20.0, 30.0}) {
    for (double noise : {0.0, 1e-6, 1e-4, 1e-2, 0.3, 2.0}) {
      for (int rep = 0; rep < 3; ++rep) {
        const int v = 50 + static_cast<int>(rng() % 1951);
        const int t_count = 6;
        const double scale = 1.0 + 5.0 * (uniform(rng) + 1.0) / 2.0;
        // The candidate's offset differs (its lse too) unless it is the very same run.
        const double cand_shift = noise == 0.0 && rep == 0 ? 0.0 : 2.0 * uniform(rng);
        std::vector<std::vector<float>> lb(t_count), lq(t_count);
        std::vector<float> lse_b, lse_q;
        std::vector<double> truth;
        for (int t = 0; t < t_count; ++t) {
          std::vector<double> xb(v), xq(v);
          for (int i = 0; i < v; ++i) {
            xb[i] = scale * normal(rng);
            xq[i] = xb[i] + noise * normal(rng);
          }
          std::vector<float> fb(v), fq(v);
          for (int i = 0; i < v; ++i) {
            // Normalized rows: logits minus their lse, so the producer's lse is ~0.
            fb[i] = static_cast<float>(xb[i] + (offset == kNormalized ? 0.0 : offset));
            fq[i] = static_cast<float>(xq[i] + (offset == kNormalized ? 0.0 : offset + cand_shift));
          }
          if (offset == kNormalized)
            for (auto* f : {&fb, &fq}) {
              const float l = Produce(*f, 0.0).lse;
              for (float& x : *f) x -= l;
            }
          truth.push_back(TrueKl(fb, fq));
          const double eb = 0x1p-22 * uniform(rng);
          const double eq = noise == 0.0 && rep == 0 ? eb : 0x1p-22 * uniform(rng);
          const bool lossy = rep < 2;  // the last repetition: lse in fp64, one rounding
          const ProducedRow pb = Produce(fb, eb, lossy), pq = Produce(fq, eq, lossy);
          lb[t] = pb.logprob;
          lq[t] = pq.logprob;
          lse_b.push_back(pb.lse);
          lse_q.push_back(pq.lse);
        }
        for (int k : {1, 4, 16, v}) {
          OwnedTokenScores b, q;
          for (int t = 0; t < t_count; ++t) {
            AppendTopK(lb[t], k, b);
            AppendTopK(lq[t], k, q);
          }
          TokenScores vb = b.View(), vq = q.View();
          auto no_lse = TopKTokenKl(vb, vq);  // L = 64: looser, still a bound
          vb.logsumexp = lse_b;
          vq.logsumexp = lse_q;
          auto bound = TopKTokenKl(vb, vq);
          ASSERT_TRUE(bound.ok()) << bound.status();
          ASSERT_TRUE(no_lse.ok()) << no_lse.status();
          for (int t = 0; t < t_count; ++t) {
            const double got = (*bound)[t], want = truth[t];
            ++tokens;
            EXPECT_GE(got, 0.0);
            EXPECT_LE(got, want) << "V " << v << " K " << k << " offset " << offset << " noise "
                                 << noise << " over by " << got - want;
            EXPECT_LE((*no_lse)[t], want) << "V " << v << " K " << k << " without logsumexp";
            EXPECT_LE((*no_lse)[t], got + 1e-12);
            if (noise == 0.0 && rep == 0) {
              EXPECT_EQ(got, 0.0);  // the very same run
            }
            const bool over = UncorrectedTopKKl(vb, vq, t) > want;
            uncorrected_over += over;
            if (offset == 30.0) {
              ++tokens_lse30;
              uncorrected_over_lse30 += over;
            }
            if (k == v) {
              if (offset == kNormalized) {
                EXPECT_NEAR(got, want, 1e-5) << "V " << v << " noise " << noise;
                worst_gap_tiny_lse = std::max(worst_gap_tiny_lse, want - got);
              }
              if (offset == 30.0) {
                // eps ~ 2^-23 (38 + |lp|), times |lp - lq + 1| + 1: more for a far candidate.
                EXPECT_NEAR(got, want, 2e-5 * (1.0 + want)) << "V " << v << " noise " << noise;
                worst_gap_lse30 = std::max(worst_gap_lse30, want - got);
              }
            }
          }
        }
      }
    }
  }
  // The values without the rounding allowance exceed the true KL on a good share of tokens.
  EXPECT_GT(uncorrected_over_lse30, tokens_lse30 / 20);
  std::printf("tokens %lld, uncorrected value above the true KL on %lld (lse 30: %lld of %lld); "
              "worst gap at K = V: %.3g (lse ~ 0), %.3g (lse ~ 30)\n",
              static_cast<long long>(tokens), static_cast<long long>(uncorrected_over),
              static_cast<long long>(uncorrected_over_lse30), static_cast<long long>(tokens_lse30),
              worst_gap_tiny_lse, worst_gap_lse30);
}

// A close candidate at lse ~ 30 where the coarse-grained KL at the stored
// values exceeds the true KL: the bound does not.
TEST(TokenKl, TopKBoundWhereTheStoredValuesOvershoot) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  int found = 0;
  for (int trial = 0; trial < 200 && found < 5; ++trial) {
    const int v = 64;
    std::vector<float> fb(v), fq(v);
    for (int i = 0; i < v; ++i) {
      const double x = 3.0 * normal(rng);
      fb[i] = static_cast<float>(x + 30.0);
      fq[i] = static_cast<float>(x + 1e-5 * normal(rng) + 29.5);
    }
    const double truth = TrueKl(fb, fq);
    const ProducedRow pb = Produce(fb, 0.0), pq = Produce(fq, 0.0);
    OwnedTokenScores b, q;
    AppendTopK(pb.logprob, v, b);
    AppendTopK(pq.logprob, v, q);
    TokenScores vb = b.View(), vq = q.View();
    if (UncorrectedTopKKl(vb, vq, 0) <= truth) continue;
    ++found;
    const std::vector<float> lb = {pb.lse}, lq = {pq.lse};
    vb.logsumexp = lb;
    vq.logsumexp = lq;
    auto bound = TopKTokenKl(vb, vq);
    ASSERT_TRUE(bound.ok()) << bound.status();
    EXPECT_LE((*bound)[0], truth) << "trial " << trial;
    EXPECT_GE((*bound)[0], 0.0);
  }
  EXPECT_GE(found, 1);  // such tokens exist (about 1 in 6 on real runs)
}

TEST(TokenKl, TopKLogSumExpMustMatch) {
  OwnedTokenScores x, y;
  AppendTopK(LogProbs({.5, .5}), 2, x);
  AppendTopK(LogProbs({.5, .5}), 2, y);
  const std::vector<float> two = {0, 0}, bad = {std::nanf("")};
  TokenScores vx = x.View(), vy = y.View();
  vx.logsumexp = two;
  EXPECT_THAT(TopKTokenKl(vx, vy).status().message(), HasSubstr("logsumexp has 2 entries, expected 1"));
  vx.logsumexp = bad;
  EXPECT_THAT(TopKTokenKl(vy, vx).status().message(), HasSubstr("token 0 has logsumexp nan"));
}

TEST(TokenKl, Summary) {
  // 1001 values 0, 1, ..., 1000: percentile q is 10 q exactly.
  std::vector<double> v(1001);
  std::iota(v.begin(), v.end(), 0.0);
  std::reverse(v.begin(), v.end());
  const TokenKlSummary s = SummarizeTokenKl(v, /*is_bound=*/true);
  EXPECT_EQ(s.n_tokens, 1001);
  EXPECT_DOUBLE_EQ(s.mean, 500.0);
  EXPECT_DOUBLE_EQ(s.median, 500.0);
  EXPECT_DOUBLE_EQ(s.p90, 900.0);
  EXPECT_DOUBLE_EQ(s.p99, 990.0);
  EXPECT_NEAR(s.p999, 999.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.max, 1000.0);
  EXPECT_TRUE(s.is_bound);
}

TEST(TokenKl, BadInputs) {
  const std::vector<float> a = {0, 0, 0, 0}, b = {0, 0, 0};
  EXPECT_THAT(ExactTokenKl(a, b, 2).status().message(), HasSubstr("both must be T x 2"));
  EXPECT_THAT(ExactTokenKl(b, b, 2).status().message(), HasSubstr("both must be T x 2"));
  EXPECT_EQ(ExactTokenKl(a, a, 0).status().code(), absl::StatusCode::kInvalidArgument);
  OwnedTokenScores x, y;
  AppendTopK(LogProbs({.5, .5}), 2, x);
  AppendTopK(LogProbs({.5, .5}), 2, y);
  AppendTopK(LogProbs({.5, .5}), 2, y);
  EXPECT_THAT(TopKTokenKl(x.View(), y.View()).status().message(), HasSubstr("has 2 tokens but baseline"));
}

}  // namespace
}  // namespace qsweep::metrics
