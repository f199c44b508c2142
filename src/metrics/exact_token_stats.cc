#include "metrics/exact_token_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"
#include "metrics/percentile.h"

namespace qsweep::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean and the standard error of the mean, s / sqrt(n) (two passes: corpora
// have millions of tokens and the values can share a large offset).
struct MeanSe {
  double mean = kNaN, se = kNaN;
};

MeanSe MeanAndStderr(std::span<const double> x) {
  MeanSe r;
  const size_t n = x.size();
  if (n == 0) return r;
  r.mean = Mean(x);
  if (n < 2) return r;
  double ss = 0.0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  r.se = std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n));
  return r;
}

// Covariance of the two means over the same n samples: sum (a - ma)(b - mb) / (n - 1) / n.
double CovarianceOfMeans(std::span<const double> a, double ma, std::span<const double> b,
                         double mb) {
  const size_t n = a.size();
  if (n < 2) return kNaN;
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += (a[i] - ma) * (b[i] - mb);
  return s / static_cast<double>(n - 1) / static_cast<double>(n);
}

}  // namespace

KlLadder SummarizeKl(std::span<const double> per_token) {
  const double qs[] = {100.0, 99.9, 99.0, 95.0, 90.0, 50.0, 10.0, 5.0, 1.0, 0.1, 0.0};
  const std::vector<double> p = Percentiles(per_token, qs);
  const MeanSe m = MeanAndStderr(per_token);
  KlLadder l;
  l.n = static_cast<int64_t>(per_token.size());
  l.mean = m.mean;
  l.mean_stderr = m.se;
  l.max = p[0];
  l.p999 = p[1];
  l.p99 = p[2];
  l.p95 = p[3];
  l.p90 = p[4];
  l.median = p[5];
  l.p10 = p[6];
  l.p5 = p[7];
  l.p1 = p[8];
  l.p01 = p[9];
  l.min = p[10];
  return l;
}

absl::StatusOr<ExactTokenStatsSummary> SummarizeExactTokenStats(const ExactTokenStatsView& v) {
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", v.what, msg));
  };
  if (v.n_tokens < 1) return bad(absl::StrFormat("exact token stats: %d tokens, needs >= 1", v.n_tokens));
  if (v.cand_top_k < 1) return bad(absl::StrFormat("candidate top-K is %d, needs >= 1", v.cand_top_k));
  const auto t_count = static_cast<size_t>(v.n_tokens);
  struct Column {
    const char* name;
    size_t size;
  };
  for (const Column& c : {Column{"kl_base_cand", v.kl_base_cand.size()},
                          Column{"kl_cand_base", v.kl_cand_base.size()},
                          Column{"base_nll", v.base_nll.size()},
                          Column{"cand_nll", v.cand_nll.size()},
                          Column{"base_top1", v.base_top1.size()}})
    if (c.size != t_count)
      return bad(absl::StrFormat("%s has %d entries, expected %d tokens", c.name, c.size, t_count));
  if (v.cand_topk_id.size() != t_count * static_cast<size_t>(v.cand_top_k))
    return bad(absl::StrFormat("cand topk_id has %d entries, expected %d x %d",
                               v.cand_topk_id.size(), v.n_tokens, v.cand_top_k));
  for (size_t t = 0; t < t_count; ++t) {
    // `!(x >= 0)` also catches NaN.
    if (!std::isfinite(v.kl_base_cand[t]) || !(v.kl_base_cand[t] >= 0.0))
      return bad(absl::StrFormat("token %d has KL(base||cand) %g, must be finite and >= 0", t,
                                 v.kl_base_cand[t]));
    if (!std::isfinite(v.kl_cand_base[t]) || !(v.kl_cand_base[t] >= 0.0))
      return bad(absl::StrFormat("token %d has KL(cand||base) %g, must be finite and >= 0", t,
                                 v.kl_cand_base[t]));
    if (!std::isfinite(v.base_nll[t]) || !(v.base_nll[t] >= 0.0))
      return bad(absl::StrFormat("token %d has baseline nll %g, must be finite and >= 0", t,
                                 v.base_nll[t]));
    if (!std::isfinite(v.cand_nll[t]) || !(v.cand_nll[t] >= 0.0))
      return bad(absl::StrFormat("token %d has candidate nll %g, must be finite and >= 0", t,
                                 v.cand_nll[t]));
    if (v.base_top1[t] < 0)
      return bad(absl::StrFormat("token %d has baseline top-1 id %d < 0", t, v.base_top1[t]));
    for (int64_t k = 0; k < v.cand_top_k; ++k)
      if (v.cand_topk_id[t * v.cand_top_k + k] < 0)
        return bad(absl::StrFormat("token %d candidate top-%d id %d < 0", t, k,
                                   v.cand_topk_id[t * v.cand_top_k + k]));
  }

  ExactTokenStatsSummary s;
  s.n_tokens = v.n_tokens;
  const double n = static_cast<double>(t_count);
  s.kl_base_cand = SummarizeKl(v.kl_base_cand);
  s.kl_cand_base = SummarizeKl(v.kl_cand_base);

  // Perplexities, their ratio and difference.
  const MeanSe nb = MeanAndStderr(v.base_nll), nc = MeanAndStderr(v.cand_nll);
  s.ppl_base = std::exp(nb.mean);
  s.ppl_cand = std::exp(nc.mean);
  std::vector<double> d(t_count);
  for (size_t t = 0; t < t_count; ++t) d[t] = v.cand_nll[t] - v.base_nll[t];
  const MeanSe md = MeanAndStderr(d);
  s.ln_ppl_ratio = md.mean;
  s.ln_ppl_ratio_stderr = md.se;
  s.ppl_ratio = std::exp(md.mean);
  s.ppl_ratio_stderr = s.ppl_ratio * md.se;
  s.ppl_diff = s.ppl_cand - s.ppl_base;
  const double cov = CovarianceOfMeans(v.cand_nll, nc.mean, v.base_nll, nb.mean);
  const double var_diff = s.ppl_cand * s.ppl_cand * nc.se * nc.se +
                          s.ppl_base * s.ppl_base * nb.se * nb.se -
                          2.0 * s.ppl_cand * s.ppl_base * cov;
  // Clamps rounding below 0 (identical runs); NaN (n < 2) stays NaN.
  s.ppl_diff_stderr = std::isnan(var_diff) ? kNaN : std::sqrt(std::max(0.0, var_diff));

  // RMS of dp of the actual next token.
  std::vector<double> dp2(t_count);
  for (size_t t = 0; t < t_count; ++t) {
    const double dp = std::exp(-v.cand_nll[t]) - std::exp(-v.base_nll[t]);
    dp2[t] = dp * dp;
  }
  const MeanSe m2 = MeanAndStderr(dp2);
  s.rms_dp = std::sqrt(m2.mean);
  s.rms_dp_stderr = s.rms_dp > 0.0 ? m2.se / (2.0 * s.rms_dp) : (t_count < 2 ? kNaN : 0.0);

  // Top-1 agreement and the baseline's top-1 among the candidate's top-5 / top-10.
  const int64_t k5 = std::min<int64_t>(5, v.cand_top_k), k10 = std::min<int64_t>(10, v.cand_top_k);
  int64_t same = 0, in5 = 0, in10 = 0;
  for (size_t t = 0; t < t_count; ++t) {
    const int32_t* ids = v.cand_topk_id.data() + t * v.cand_top_k;
    const int32_t b = v.base_top1[t];
    same += ids[0] == b;
    int64_t rank = 0;
    while (rank < k10 && ids[rank] != b) ++rank;
    in5 += rank < k5;
    in10 += rank < k10;
  }
  s.same_top1 = static_cast<double>(same) / n;
  s.same_top1_stderr = t_count < 2 ? kNaN : std::sqrt(s.same_top1 * (1.0 - s.same_top1) / n);
  s.base_top1_in_cand_top5 = v.cand_top_k < 5 ? kNaN : static_cast<double>(in5) / n;
  s.base_top1_in_cand_top10 = v.cand_top_k < 10 ? kNaN : static_cast<double>(in10) / n;
  return s;
}

std::vector<std::pair<std::string, double>> ExactStatsFields(const ExactTokenStatsSummary& s) {
  std::vector<std::pair<std::string, double>> out;
  auto ladder = [&](const std::string& prefix, const KlLadder& l) {
    const std::pair<const char*, double> rungs[] = {
        {"mean", l.mean}, {"mean_stderr", l.mean_stderr}, {"max", l.max}, {"p999", l.p999}, {"p99", l.p99},
        {"p95", l.p95},   {"p90", l.p90},                 {"median", l.median}, {"p10", l.p10}, {"p5", l.p5},
        {"p1", l.p1},     {"p01", l.p01},                 {"min", l.min}};
    for (const auto& [name, value] : rungs) out.emplace_back(prefix + name, value);
  };
  ladder("kl_", s.kl_base_cand);
  ladder("kl_reverse_", s.kl_cand_base);
  const std::pair<const char*, double> rest[] = {
      {"ppl_base", s.ppl_base},         {"ppl", s.ppl_cand},
      {"ppl_ratio", s.ppl_ratio},       {"ppl_ratio_stderr", s.ppl_ratio_stderr},
      {"ln_ppl_ratio", s.ln_ppl_ratio}, {"ln_ppl_ratio_stderr", s.ln_ppl_ratio_stderr},
      {"ppl_diff", s.ppl_diff},         {"ppl_diff_stderr", s.ppl_diff_stderr},
      {"rms_dp", s.rms_dp},             {"rms_dp_stderr", s.rms_dp_stderr},
      {"same_top1", s.same_top1},       {"same_top1_stderr", s.same_top1_stderr},
      {"top1_in_top5", s.base_top1_in_cand_top5}, {"top1_in_top10", s.base_top1_in_cand_top10}};
  for (const auto& [name, value] : rest) out.emplace_back(name, value);
  return out;
}

}  // namespace qsweep::metrics
