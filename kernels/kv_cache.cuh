// The KV cache of generation: writing a batch's keys and values into their
// cache rows, and attention of decode rows over the cache. CPU reference:
// ref::CachedAttention (src/backend/cpu/reference_ops.h) and a row copy.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qsweep::kernels {

// cache[cache_row[r]] = x[r] ([rows, cols] each) for every row whose cache
// row is not -1.
template <typename T>
void WriteCacheRows(const T* x, int64_t rows, int64_t cols, const int64_t* cache_row, T* cache, cudaStream_t s);

// Row r of q ([rows, Hq*hd]) attends to cache rows [key_begin[r],
// key_last[r]] of k and v ([cache rows, Hkv*hd]), GQA, scale 1/sqrt(hd),
// fp32 arithmetic. head_dim <= 256.
//
// A decode step holds one row per sequence and its keys sit in the cache:
// a few rows against thousands of keys, bound by reading K and V once. The
// keys of a row are cut into splits of 128 from its first key (flash-
// decoding), a block per (row, kv head, split), so that even one row fills
// the device; the block's four warps take 32 keys each. A lane owns one key:
// it reads the key's row in 16-byte loads and forms its dot product with
// every query head of the kv head's group (GQA: K is read once for the
// group, not once per query head; the queries sit in shared memory and every
// lane reads the same word, a broadcast). The warp turns its 32 scores into
// softmax weights per head and accumulates V with each lane owning
// consecutive output dimensions (a key's row is one load per lane). Each
// split leaves its maximum, sum and weighted values in `partial`; a second
// kernel combines the splits of each (row, query head) in split order. The
// splits are fixed by the row's own key count, so a row's result depends on
// its own keys only: not on the batch's other rows, nor on where its keys
// sit in the cache.
//
// `partial` holds CachedAttentionPartialFloats(rows, q_heads, head_dim,
// max_keys) floats, max_keys the most keys of any row. Head dims whose rows
// are not whole 16-byte words or do not split evenly over 32 lanes' runs,
// or GQA groups above 8, take a kernel of a block per (row, query head)
// without the splits.
int64_t CachedAttentionPartialFloats(int64_t rows, int64_t q_heads, int64_t head_dim, int64_t max_keys);
template <typename T>
void CachedAttention(const T* q, const T* k, const T* v, int64_t rows, const int64_t* key_begin,
                     const int64_t* key_last, int64_t q_heads, int64_t kv_heads, int64_t head_dim, int64_t max_keys,
                     float* partial, T* out, cudaStream_t s);

// The kernel without splits, for any head dim (also the second
// implementation the split one is tested against).
template <typename T>
void CachedAttentionPerHead(const T* q, const T* k, const T* v, int64_t rows, const int64_t* key_begin,
                            const int64_t* key_last, int64_t q_heads, int64_t kv_heads, int64_t head_dim, T* out,
                            cudaStream_t s);

}  // namespace qsweep::kernels
