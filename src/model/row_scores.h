// Per-row scores from the logits' statistics: log p(target), logsumexp,
// whether the target is the argmax, top-K log-probs, and optionally full
// rows, combined from per-chunk statistics in a fixed order, so the result
// does not depend on which rank held which chunk.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace qsweep {

struct RowScores {
  int64_t rows = 0;
  int topk = 0;
  std::vector<float> target_logprob;  // [rows]
  std::vector<float> logsumexp;       // [rows]
  std::vector<uint8_t> target_is_argmax;  // [rows]
  std::vector<int32_t> topk_id;       // [rows, topk]
  std::vector<float> topk_logprob;    // [rows, topk]
  std::vector<float> logprobs;        // [rows, vocab] when full rows were asked for
  // Exact token statistics against a baseline (RowPairing::base_hidden), in
  // fp64 over the whole vocabulary: both directions of KL, both models' nll
  // of the target, the baseline's argmax (lowest id among ties).
  std::vector<double> kl_base_cand, kl_cand_base, base_nll, cand_nll;  // [rows]
  std::vector<int32_t> base_top1;                                      // [rows]
  // The rows' final hidden states, after the last norm, as the head reads
  // them (RowPairing::keep_hidden): [rows, hidden], each value exact in the
  // backend's compute type.
  std::vector<float> final_hidden;
};

// What a scoring call does besides the statistics: keep the rows' final
// hidden states (a baseline run, so candidates can recompute its logits), or
// recompute a baseline's logits from its hidden states with its head and
// compare them with this model's, row by row (a candidate run).
struct RowPairing {
  bool keep_hidden = false;
  std::span<const float> base_hidden = {};  // [rows, hidden]; empty: no comparison
  // The same as bfloat16 bits, where the baseline computed in bf16 (a
  // candidate then moves them to the device as they are stored).
  std::span<const uint16_t> base_hidden_bf16 = {};
  bool compares() const { return !base_hidden.empty() || !base_hidden_bf16.empty(); }
};

// `chunks`: the statistics of every vocabulary chunk, in vocabulary order
// (from one rank, or gathered from a tensor-parallel group in rank order).
// The pair arrays, when the chunks hold them, combine into the exact token
// statistics: with M = max over chunks of the chunk maxima m_k and
// Z = Σ_k exp(m_k − M)·sum_k, lse = M + log Z for each model, and
//   KL(b‖c) = Σ_k exp(mb_k − Mb)·base_dot_k / Zb − lse_b + lse_c
// (= Σ_v p_b(v)·(b_v − c_v) − (lse_b − lse_c)), the other direction alike;
// in fp64, clamped at 0 (identical logits give exactly 0).
RowScores CombineLogitStats(std::span<const LogitStats> chunks, int topk, bool full_rows);

}  // namespace qsweep
