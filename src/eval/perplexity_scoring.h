// Perplexity over a token stream with a fixed window and stride (the
// "sliding window" evaluation of HF's perplexity guide): window k feeds
// tokens [k·stride, k·stride + window) and scores those of its tokens that no
// earlier window scored, so every token after the first is scored once, with
// at least window − stride tokens of context after the first window.
#pragma once
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/baseline_hidden.h"
#include "eval/columns.h"
#include "eval/logit_scorer.h"
#include "eval/requests.h"

namespace qsweep {

struct PplWindow {
  int64_t begin = 0;       // first fed token
  int64_t end = 0;         // one past the last fed token
  int64_t score_from = 0;  // first scored token (predicted from the row before it)
};

std::vector<PplWindow> PplWindows(int64_t tokens, int64_t window, int64_t stride);

// Per scored token t (stream index score_from..end-1 of each window, in order).
struct TokenRows {
  int64_t tokens = 0;
  int64_t topk = 0;
  int64_t vocab = 0;                 // > 0 when full rows are kept
  std::vector<int32_t> token_id;
  std::vector<float> nll;
  std::vector<float> logsumexp;
  std::vector<uint8_t> is_argmax;
  std::vector<int32_t> topk_id;      // [tokens, topk]
  std::vector<float> topk_logprob;   // [tokens, topk]
  std::vector<uint16_t> logprob_f16; // [tokens, vocab] when kept
  // A baseline run's final hidden states (exact token statistics' input):
  // [tokens, hidden] when computed in fp32 or fp16, [tokens, hidden_bf16]
  // when in bf16 (stored as bfloat16); at most one is kept.
  int64_t hidden = 0, hidden_bf16 = 0;
  std::vector<float> final_hidden, final_hidden_bf16;
  // A candidate's exact token statistics against the baseline (paired = 1):
  // KL both ways over the whole vocabulary, both nll, the baseline's argmax.
  int64_t paired = 0;
  std::vector<double> kl_base_cand, kl_cand_base, base_nll, cand_nll;
  std::vector<int32_t> base_top1;
};

// TokenRows' sizes and arrays, in journal and file order (eval/columns.h).
template <typename F, typename... Rows>
void ForEachSize(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, TokenRows> && ...)
{
  f("tokens", r.tokens...);
  f("topk", r.topk...);
  f("vocab", r.vocab...);
  f("hidden", r.hidden...);
  f("hidden_bf16", r.hidden_bf16...);
  f("paired", r.paired...);
}

template <typename F, typename... Rows>
void ForEachColumn(F&& f, Rows&... r)
  requires(std::is_same_v<std::remove_const_t<Rows>, TokenRows> && ...)
{
  f(Column("token_id", r.token_id, r.tokens)...);
  f(Column("nll", r.nll, r.tokens)...);
  f(Column("logsumexp", r.logsumexp, r.tokens)...);
  f(Column("is_argmax", r.is_argmax, r.tokens)...);
  f(Column("topk_id", r.topk_id, r.tokens, &r.topk, 0, kLarge)...);
  f(Column("topk_logprob", r.topk_logprob, r.tokens, &r.topk, 0.0f, kLarge)...);
  f(Column("logprob", r.logprob_f16, r.tokens, &r.vocab, 0, kLarge | kOptional)...);
  // Uncompressed (chunked by rows, as every dataset): each candidate batch reads a row range
  // of them, and deflate gains little on such values while costing the
  // candidate's host time per batch.
  f(Column("final_hidden", r.final_hidden, r.tokens, &r.hidden, 0.0f, kOptional)...);
  f(Column("final_hidden_bf16", r.final_hidden_bf16, r.tokens, &r.hidden_bf16, 0.0f, kOptional | kBf16)...);
  constexpr unsigned kPair = kOptional | kPresence;
  f(Column("kl_base_cand", r.kl_base_cand, r.tokens, &r.paired, 0.0, kPair)...);
  f(Column("kl_cand_base", r.kl_cand_base, r.tokens, &r.paired, 0.0, kPair)...);
  f(Column("base_nll", r.base_nll, r.tokens, &r.paired, 0.0, kPair)...);
  f(Column("cand_nll", r.cand_nll, r.tokens, &r.paired, 0.0, kPair)...);
  f(Column("base_top1", r.base_top1, r.tokens, &r.paired, 0, kPair)...);
}

// What a window scoring does besides the statistics (RowPairing): keep the
// final hidden states (`hidden_bf16`: the backend computes in bf16), or
// compare with a baseline's, read from `baseline` for corpus `corpus` from
// its scored token `first_token` on (the windows' first).
struct WindowPairing {
  bool keep_hidden = false;
  bool hidden_bf16 = false;
  BaselineHidden* baseline = nullptr;
  int64_t corpus = 0;
  int64_t first_token = 0;
};

absl::StatusOr<TokenRows> ScoreWindows(LogitScorer& scorer, const PplCorpusRequests& corpus,
                                       std::span<const PplWindow> windows, int topk, bool full_rows,
                                       const WindowPairing& pairing = {});

}  // namespace qsweep
