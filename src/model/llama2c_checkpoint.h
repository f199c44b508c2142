// llama2.c checkpoints (karpathy/llama2.c run.c format): 7 int32 header
// fields (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; a negative vocab_size means a separate classifier at the end),
// then fp32 arrays. Exposed under the canonical HF names, with wq and wk rows
// permuted from llama2.c's interleaved rotary pairs (2i, 2i+1) to HF's
// rotate_half halves (i, i + head_dim/2), as HF's
// convert_llama_weights_to_hf.py permute() does.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"

namespace qsweep {

// The llama2.c row that holds HF row `hf_row` of a q/k projection with
// heads of `head_dim` rows: HF row (h, p*head_dim/2 + i) = llama2.c row
// (h, 2*i + p).
int64_t Llama2cRowOfHfRow(int64_t hf_row, int64_t head_dim);

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenLlama2cCheckpoint(const std::string& path);

}  // namespace qsweep
