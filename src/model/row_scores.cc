#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/status_macros.h"

namespace qsweep {

RowScores CombineLogitStats(std::span<const LogitStats> per_rank, int topk, bool full_rows) {
  // per_rank: the chunks, in vocabulary order.
  QSWEEP_CHECK(!per_rank.empty());
  RowScores out;
  const int64_t n = static_cast<int64_t>(per_rank[0].max.size());
  out.rows = n;
  out.topk = topk;
  out.target_logprob.resize(n);
  out.logsumexp.resize(n);
  out.target_is_argmax.resize(n);
  out.topk_id.resize(n * topk);
  out.topk_logprob.resize(n * topk);
  std::vector<std::pair<float, int32_t>> cand;
  for (int64_t r = 0; r < n; ++r) {
    float gmax = -INFINITY, target = NAN;
    for (const LogitStats& s : per_rank) {
      gmax = std::max(gmax, s.max[r]);
      if (!std::isnan(s.target_logit[r])) target = s.target_logit[r];
    }
    double sum = 0;
    for (const LogitStats& s : per_rank) sum += double{s.sum_exp[r]} * std::exp(double{s.max[r]} - gmax);
    const float lse = gmax + static_cast<float>(std::log(sum));
    out.logsumexp[r] = lse;
    out.target_logprob[r] = target - lse;
    out.target_is_argmax[r] = target >= gmax;
    cand.clear();
    for (const LogitStats& s : per_rank)
      for (int i = 0; i < topk; ++i) cand.emplace_back(s.topk_logit[r * topk + i], s.topk_id[r * topk + i]);
    std::partial_sort(cand.begin(), cand.begin() + topk, cand.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int i = 0; i < topk; ++i) {
      out.topk_id[r * topk + i] = cand[i].second;
      out.topk_logprob[r * topk + i] = cand[i].first - lse;
    }
    if (full_rows)
      for (const LogitStats& s : per_rank) {
        const int64_t v = static_cast<int64_t>(s.logits.size()) / n;
        for (int64_t j = 0; j < v; ++j) out.logprobs.push_back(s.logits[r * v + j] - lse);
      }
  }
  return out;
}

}  // namespace qsweep
