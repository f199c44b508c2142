#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/status_macros.h"

namespace qsweep {
namespace {

// Row r's top-k over all slices: a k-way merge of the slices' lists, which
// arrive in TopKBefore order (a partial sort of all candidates where one does
// not, which gives the same answer).
void MergeTopK(std::span<const LogitStats> slices, int64_t r, int topk, double lse,
               std::vector<std::pair<float, int32_t>>* cand, int32_t* ids, float* logprobs) {
  const size_t n = slices.size();
  bool sorted = n <= 64;
  for (size_t c = 0; sorted && c < n; ++c)
    for (int i = 1; sorted && i < topk; ++i) {
      const int64_t a = r * topk + i - 1;
      sorted = !TopKBefore(slices[c].topk_logit[a + 1], slices[c].topk_id[a + 1], slices[c].topk_logit[a],
                           slices[c].topk_id[a]);
    }
  if (sorted) {
    int head[64] = {};
    for (int i = 0; i < topk; ++i) {
      size_t best = n;
      for (size_t c = 0; c < n; ++c) {
        if (head[c] >= topk) continue;
        const int64_t a = r * topk + head[c];
        if (best == n || TopKBefore(slices[c].topk_logit[a], slices[c].topk_id[a],
                                    slices[best].topk_logit[r * topk + head[best]],
                                    slices[best].topk_id[r * topk + head[best]]))
          best = c;
      }
      const int64_t a = r * topk + head[best]++;
      ids[i] = slices[best].topk_id[a];
      logprobs[i] = static_cast<float>(slices[best].topk_logit[a] - lse);
    }
    return;
  }
  cand->clear();
  for (const LogitStats& s : slices)
    for (int i = 0; i < topk; ++i) cand->emplace_back(s.topk_logit[r * topk + i], s.topk_id[r * topk + i]);
  std::partial_sort(cand->begin(), cand->begin() + topk, cand->end(),
                    [](const auto& a, const auto& b) { return TopKBefore(a.first, a.second, b.first, b.second); });
  for (int i = 0; i < topk; ++i) {
    ids[i] = (*cand)[i].second;
    logprobs[i] = static_cast<float>((*cand)[i].first - lse);
  }
}

// Row r's exact token statistics from every chunk's pair arrays.
void CombinePair(std::span<const LogitStats> chunks, int64_t r, RowScores* out) {
  double mb = -INFINITY, mc = -INFINITY, target_c = NAN, target_b = NAN;
  int32_t top1 = -1;
  for (const LogitStats& s : chunks) {
    // Chunks arrive in vocabulary order: a later chunk's tie has a higher id.
    if (s.base_max[r] > mb) {
      mb = s.base_max[r];
      top1 = s.base_argmax[r];
    }
    mc = std::max(mc, double{s.cand_max[r]});
    if (!std::isnan(s.base_target_logit[r])) target_b = s.base_target_logit[r];
    if (!std::isnan(s.target_logit[r])) target_c = s.target_logit[r];
  }
  double zb = 0, zc = 0, db = 0, dc = 0;
  for (const LogitStats& s : chunks) {
    const double wb = std::exp(s.base_max[r] - mb), wc = std::exp(s.cand_max[r] - mc);
    zb += wb * s.base_sum[r];
    db += wb * s.base_dot[r];
    zc += wc * s.cand_sum[r];
    dc += wc * s.cand_dot[r];
  }
  const double lse_b = mb + std::log(zb), lse_c = mc + std::log(zc);
  // A rounding's negative is clamped at 0; a NaN row stays NaN.
  auto clamp = [](double kl) { return std::isnan(kl) ? kl : std::max(0.0, kl); };
  out->kl_base_cand[r] = clamp(db / zb - lse_b + lse_c);
  out->kl_cand_base[r] = clamp(dc / zc - lse_c + lse_b);
  out->base_nll[r] = lse_b - target_b;
  out->cand_nll[r] = lse_c - target_c;
  out->base_top1[r] = top1;
}

}  // namespace

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
  const int64_t vocab = [&] {
    int64_t v = 0;
    if (full_rows)
      for (const LogitStats& s : per_rank) v += static_cast<int64_t>(s.logits.size()) / std::max<int64_t>(n, 1);
    return v;
  }();
  if (full_rows) out.logprobs.resize(n * vocab);
  const bool paired = !per_rank[0].base_max.empty();
  if (paired)
    for (auto* v : {&out.kl_base_cand, &out.kl_cand_base, &out.base_nll, &out.cand_nll}) v->resize(n);
  if (paired) out.base_top1.resize(n);
  // Rows are independent: a bench batch has 8k of them, each a merge of
  // every chunk's top-k, which is host time the GPU would wait for.
#pragma omp parallel
  {
    std::vector<std::pair<float, int32_t>> cand;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n; ++r) {
      float gmax = -INFINITY, target = NAN;
      for (const LogitStats& s : per_rank) {
        gmax = std::max(gmax, s.max[r]);
        if (!std::isnan(s.target_logit[r])) target = s.target_logit[r];
      }
      double sum = 0;
      for (const LogitStats& s : per_rank) sum += double{s.sum_exp[r]} * std::exp(double{s.max[r]} - gmax);
      // In fp64 until each log-prob is rounded once: float(logit) − float(lse)
      // would carry lse's rounding (~1e-6 at |lse| ≈ 16) into every entry of
      // the row alike, and a row's top-K probabilities could sum past 1.
      const double lse = gmax + std::log(sum);
      out.logsumexp[r] = static_cast<float>(lse);
      out.target_logprob[r] = static_cast<float>(target - lse);
      out.target_is_argmax[r] = target >= gmax;
      if (paired) CombinePair(per_rank, r, &out);
      MergeTopK(per_rank, r, topk, lse, &cand, out.topk_id.data() + r * topk, out.topk_logprob.data() + r * topk);
      if (full_rows) {
        float* dst = &out.logprobs[r * vocab];
        for (const LogitStats& s : per_rank) {
          const int64_t v = static_cast<int64_t>(s.logits.size()) / n;
          for (int64_t j = 0; j < v; ++j) *dst++ = static_cast<float>(s.logits[r * v + j] - lse);
        }
      }
    }
  }
  return out;
}

}  // namespace qsweep
