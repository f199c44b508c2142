// The decoder's operations in plain fp32 loops: the specification that the
// CPU backend runs and every CUDA kernel is tested against.
#pragma once
#include <cstdint>
#include <span>

namespace qsweep::ref {

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) * w   (x, out: [rows, dim])
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* out);

// HF rotate_half: for each head, pairs (i, i + hd/2) rotate by pos * inv_freq[i].
void Rotary(float* x, int64_t rows, int64_t n_heads, int64_t head_dim, const float* inv_freq,
            const int32_t* positions);

// Row r attends to keys [seq_begin[r], prefix_end[r]) ∪ [branch_begin[r], r]
// (see SequenceLayout); GQA maps query head h to kv head h / (n_q / n_kv).
void Attention(const float* q, const float* k, const float* v, int64_t rows,
               const int64_t* seq_begin, const int64_t* prefix_end, const int64_t* branch_begin,
               int64_t n_q_heads, int64_t n_kv_heads, int64_t head_dim, float* out);

// Row r attends to cache rows [key_begin[r], key_end[r]) of k/v (the decode
// step over a KV cache); q and out hold `rows` rows.
void CachedAttention(const float* q, const float* k, const float* v, int64_t rows, const int64_t* key_begin,
                     const int64_t* key_end, int64_t n_q_heads, int64_t n_kv_heads, int64_t head_dim, float* out);

// Plain causal attention within each sequence [offsets[s], offsets[s+1]).
void CausalAttention(const float* q, const float* k, const float* v,
                     std::span<const int64_t> offsets, int64_t n_q_heads, int64_t n_kv_heads,
                     int64_t head_dim, float* out);

// out = silu(gate) * up, elementwise.
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);

// One row's pair statistics over a slice of n logits (Backend::PairLogitStatistics,
// LogitStats' base_* and cand_* members): b the baseline's logits, c the
// candidate's; target_local the target's column or -1 outside the slice.
// Every term exp(x − max) and difference is taken in fp64 from the fp32
// logits and summed in fp64 in column order; the argmax is the lowest column
// reaching the maximum (a NaN row gives NaN statistics and argmax -1 when no
// column is a number).
struct PairRow {
  float base_max = 0, base_target_logit = 0, cand_max = 0;
  int32_t base_argmax = -1;  // column (local)
  double base_sum = 0, cand_sum = 0, base_dot = 0, cand_dot = 0;
};
PairRow PairLogitRow(const float* b, const float* c, int64_t n, int32_t target_local);

// The all-reduce of a tensor-parallel group: `all` holds `ranks` buffers of
// n values in rank order; out = their sum, added in a fixed binary tree
// (rank i += rank i + stride for stride 1, 2, 4, ...), the order in which the
// decoder adds its canonical parts, so any tp gives one GPU's sums.
void SumRanksInTreeOrder(const float* all, int ranks, int64_t n, float* out);

}  // namespace qsweep::ref
