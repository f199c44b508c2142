#include "eval/perplexity_scoring.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"

namespace qsweep {

std::vector<PplWindow> PplWindows(int64_t tokens, int64_t window, int64_t stride) {
  // stride < window: each window after the first overlaps the previous one by
  // at least one token, which gives its first scored token a context.
  QSWEEP_CHECK(window >= 2 && stride >= 1 && stride < window);
  std::vector<PplWindow> out;
  int64_t scored_to = 1;  // token 0 (BOS) is never scored
  for (int64_t begin = 0; scored_to < tokens; begin += stride) {
    const int64_t end = std::min(tokens, begin + window);
    if (end > scored_to) out.push_back({begin, end, std::max(scored_to, begin + 1)});
    scored_to = std::max(scored_to, end);
  }
  return out;
}

absl::StatusOr<TokenRows> ScoreWindows(LogitScorer& scorer, const PplCorpusRequests& corpus,
                                       std::span<const PplWindow> windows, int topk, bool full_rows,
                                       const WindowPairing& pairing) {
  TokenRows out;
  out.topk = topk;
  out.vocab = full_rows ? scorer.vocab_size() : 0;
  out.paired = pairing.baseline ? 1 : 0;
  const int64_t capacity = scorer.max_batch_tokens();
  size_t next = 0;
  while (next < windows.size()) {
    TokenBatch batch;
    batch.align = scorer.sequence_alignment();
    std::vector<int64_t> rows;
    std::vector<int32_t> targets;
    while (next < windows.size()) {
      const PplWindow& w = windows[next];
      if (w.end - w.begin > capacity)
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: window of %d tokens exceeds the batch capacity of %d tokens", corpus.name,
            w.end - w.begin, capacity));
      const int64_t length = w.end - w.begin;
      if (batch.RowsAfter({&length, 1}) > capacity) break;
      const int64_t first = batch.AddSequence(std::span<const int32_t>(
          corpus.tokens.data() + w.begin, static_cast<size_t>(w.end - w.begin)));
      for (int64_t t = w.score_from; t < w.end; ++t) {
        rows.push_back(first + (t - 1 - w.begin));
        targets.push_back(corpus.tokens[t]);
      }
      ++next;
    }
    RowPairing row_pairing{.keep_hidden = pairing.keep_hidden};
    std::vector<float> base_hidden;
    std::vector<uint16_t> base_hidden_bf16;
    if (pairing.baseline) {
      const int64_t first = pairing.first_token + out.tokens, count = static_cast<int64_t>(rows.size());
      if (pairing.baseline->bf16()) {
        QSWEEP_ASSIGN_OR_RETURN(base_hidden_bf16, pairing.baseline->RowsBf16(pairing.corpus, first, count));
        row_pairing.base_hidden_bf16 = base_hidden_bf16;
      } else {
        QSWEEP_ASSIGN_OR_RETURN(base_hidden, pairing.baseline->Rows(pairing.corpus, first, count));
        row_pairing.base_hidden = base_hidden;
      }
    }
    QSWEEP_ASSIGN_OR_RETURN(RowScores s, scorer.Score(batch, rows, targets, topk, full_rows, row_pairing));
    out.tokens += s.rows;
    out.token_id.insert(out.token_id.end(), targets.begin(), targets.end());
    for (int64_t r = 0; r < s.rows; ++r) out.nll.push_back(-s.target_logprob[r]);
    out.logsumexp.insert(out.logsumexp.end(), s.logsumexp.begin(), s.logsumexp.end());
    out.is_argmax.insert(out.is_argmax.end(), s.target_is_argmax.begin(), s.target_is_argmax.end());
    out.topk_id.insert(out.topk_id.end(), s.topk_id.begin(), s.topk_id.end());
    out.topk_logprob.insert(out.topk_logprob.end(), s.topk_logprob.begin(), s.topk_logprob.end());
    for (float v : s.logprobs) out.logprob_f16.push_back(FloatToF16(v));
    if (pairing.keep_hidden) {
      std::vector<float>& dst = pairing.hidden_bf16 ? out.final_hidden_bf16 : out.final_hidden;
      dst.insert(dst.end(), s.final_hidden.begin(), s.final_hidden.end());
    }
    if (pairing.baseline) {
      auto append = [](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
      append(out.kl_base_cand, s.kl_base_cand);
      append(out.kl_cand_base, s.kl_cand_base);
      append(out.base_nll, s.base_nll);
      append(out.cand_nll, s.cand_nll);
      append(out.base_top1, s.base_top1);
    }
  }
  if (pairing.keep_hidden && out.tokens > 0)
    (pairing.hidden_bf16 ? out.hidden_bf16 : out.hidden) =
        static_cast<int64_t>((pairing.hidden_bf16 ? out.final_hidden_bf16 : out.final_hidden).size()) / out.tokens;
  if (pairing.keep_hidden && out.tokens > 0)
    (pairing.hidden_bf16 ? out.hidden_bf16 : out.hidden) =
        static_cast<int64_t>((pairing.hidden_bf16 ? out.final_hidden_bf16 : out.final_hidden).size()) / out.tokens;
  return out;
}

}  // namespace qsweep
