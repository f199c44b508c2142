// Writes a GGUF v3 file of a Llama-family checkpoint, as llama.cpp's
// converter lays one out (GGUF tensor names, [ne0 = columns, ne1 = rows],
// q/k rows in the interleaved rotary order for the "llama" architecture,
// data aligned), each tensor in a chosen ggml type: the fixture of the GGUF
// reader's tests and the sweep's GGUF entries. Quantizes by round to nearest
// with one fp16 scale per block (any valid blocks do: readers are checked
// against DequantizeGgml of what was written).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status_macros.h"
#include "model/checkpoint.h"
#include "quant/ggml_blocks.h"

namespace qsweep::testing {

class GgufWriter {
 public:
  void Str(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Blocks of `type` for one row of weights (a multiple of its block size).
inline std::vector<uint8_t> QuantizeGgmlRow(GgmlType type, const float* x, int64_t n) {
  std::vector<uint8_t> out;
  auto half = [&](float v) {
    const uint16_t h = FloatToF16(v);
    out.push_back(h & 0xFF);
    out.push_back(h >> 8);
  };
  for (int64_t b = 0; b < n; b += (type == GgmlType::kF32 || type == GgmlType::kF16) ? n : 32) {
    if (type == GgmlType::kF32) {
      out.resize(4 * n);
      std::memcpy(out.data(), x, 4 * n);
      break;
    }
    if (type == GgmlType::kF16) {
      for (int64_t i = 0; i < n; ++i) half(x[i]);
      break;
    }
    float amax = 0, mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < 32; ++i) {
      amax = std::max(amax, std::fabs(x[b + i]));
      mn = std::min(mn, x[b + i]);
      mx = std::max(mx, x[b + i]);
    }
    if (type == GgmlType::kQ8_0) {
      const float d = RoundF16(amax / 127);
      half(d);
      for (int i = 0; i < 32; ++i)
        out.push_back(static_cast<uint8_t>(static_cast<int8_t>(d ? std::lround(x[b + i] / d) : 0)));
    } else if (type == GgmlType::kQ4_0) {
      const float d = RoundF16(amax / 7);
      half(d);
      auto code = [&](int i) { return static_cast<uint8_t>(std::clamp<long>(d ? std::lround(x[b + i] / d) : 0, -8, 7) + 8); };
      for (int j = 0; j < 16; ++j) out.push_back(code(j) | (code(j + 16) << 4));
    } else if (type == GgmlType::kQ5_0) {
      const float d = RoundF16(amax / 15);
      half(d);
      uint32_t qh = 0;
      uint8_t q[32];
      for (int i = 0; i < 32; ++i)
        q[i] = static_cast<uint8_t>(std::clamp<long>(d ? std::lround(x[b + i] / d) : 0, -16, 15) + 16);
      for (int j = 0; j < 16; ++j) qh |= ((q[j] >> 4) & 1u) << j | ((q[j + 16] >> 4) & 1u) << (j + 16);
      for (int k = 0; k < 4; ++k) out.push_back((qh >> (8 * k)) & 0xFF);
      for (int j = 0; j < 16; ++j) out.push_back((q[j] & 15) | ((q[j + 16] & 15) << 4));
    } else if (type == GgmlType::kQ5_1) {
      const float d = RoundF16((mx - mn) / 31), m = RoundF16(mn);
      half(d);
      half(m);
      uint32_t qh = 0;
      uint8_t q[32];
      for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(std::clamp<long>(d ? std::lround((x[b + i] - m) / d) : 0, 0, 31));
      for (int j = 0; j < 16; ++j) qh |= ((q[j] >> 4) & 1u) << j | ((q[j + 16] >> 4) & 1u) << (j + 16);
      for (int k = 0; k < 4; ++k) out.push_back((qh >> (8 * k)) & 0xFF);
      for (int j = 0; j < 16; ++j) out.push_back((q[j] & 15) | ((q[j + 16] & 15) << 4));
    } else {
      return {};  // not a type this fixture writes
    }
  }
  return out;
}

// GGUF names and whether the "llama" converter permuted the rows (q, k).
inline std::string GgufName(const std::string& canonical) {
  if (canonical == "model.embed_tokens.weight") return "token_embd.weight";
  if (canonical == "model.norm.weight") return "output_norm.weight";
  if (canonical == "lm_head.weight") return "output.weight";
  int layer = -1;
  char rest[128] = {0};
  std::sscanf(canonical.c_str(), "model.layers.%d.%127s", &layer, rest);
  const std::string r = rest;
  const std::pair<const char*, const char*> map[] = {
      {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},    {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},       {"self_attn.v_proj.bias", "attn_v.bias"}};
  for (const auto& [from, to] : map)
    if (r == from) return "blk." + std::to_string(layer) + "." + to;
  return "";
}

// The rest of a byte-level BPE tokenizer's arrays, as llama.cpp writes them.
struct GgufBpeArrays {
  std::vector<std::string> merges;
  std::vector<int32_t> token_type;  // empty: not written
  std::string pre;
};

// A SentencePiece ("llama") tokenizer's arrays and keys, as llama.cpp writes them.
struct GgufSpmArrays {
  std::vector<float> scores;
  std::vector<int32_t> token_type;
  uint32_t unk_id = 0, bos_id = 1, eos_id = 2;
  bool add_space_prefix = true;
};

// Writes `ckpt` as GGUF to `path`; `type_of(name, rows, cols)` picks each
// tensor's type (1-D tensors are always F32). `tokens`: the vocabulary's
// entries by id (default: "t0", "t1", ...); `bpe`: merges, token types and
// the pre-tokenizer's name (default: none written); `spm`: a SentencePiece
// tokenizer's instead.
inline void WriteGguf(const Checkpoint& ckpt, const std::string& path,
                      const std::function<GgmlType(const std::string&, int64_t, int64_t)>& type_of,
                      const std::string& arch = "llama", std::vector<std::string> tokens = {},
                      const GgufBpeArrays* bpe = nullptr, const GgufSpmArrays* spm = nullptr) {
  if (tokens.empty())
    for (int64_t i = 0; i < ckpt.config().vocab_size; ++i) tokens.push_back("t" + std::to_string(i));
  const ModelConfig& c = ckpt.config();
  GgufWriter w;
  w.Put<uint32_t>(0x46554747);
  w.Put<uint32_t>(3);
  w.Put<uint64_t>(ckpt.tensors().size());
  const int n_keys = 13 + (bpe ? 2 + !bpe->token_type.empty() : 0) + (spm ? 6 : 0);
  w.Put<uint64_t>(n_keys);
  auto kv_str = [&](const std::string& k, const std::string& v) { w.Str(k); w.Put<uint32_t>(8); w.Str(v); };
  auto kv_u32 = [&](const std::string& k, uint32_t v) { w.Str(k); w.Put<uint32_t>(4); w.Put<uint32_t>(v); };
  auto kv_f32 = [&](const std::string& k, float v) { w.Str(k); w.Put<uint32_t>(6); w.Put<float>(v); };
  kv_str("general.architecture", arch);
  kv_u32("general.alignment", 32);
  kv_u32(arch + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  kv_u32(arch + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  kv_u32(arch + ".block_count", static_cast<uint32_t>(c.num_layers));
  kv_u32(arch + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  kv_u32(arch + ".attention.head_count", static_cast<uint32_t>(c.num_heads));
  kv_u32(arch + ".attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  kv_u32(arch + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  kv_f32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  kv_f32(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  kv_str("tokenizer.ggml.model", spm ? "llama" : "gpt2");
  w.Str("tokenizer.ggml.tokens");
  w.Put<uint32_t>(9);
  w.Put<uint32_t>(8);
  w.Put<uint64_t>(tokens.size());
  for (const std::string& t : tokens) w.Str(t);
  if (spm) {
    w.Str("tokenizer.ggml.scores");
    w.Put<uint32_t>(9);
    w.Put<uint32_t>(6);
    w.Put<uint64_t>(spm->scores.size());
    for (const float x : spm->scores) w.Put<float>(x);
    w.Str("tokenizer.ggml.token_type");
    w.Put<uint32_t>(9);
    w.Put<uint32_t>(5);
    w.Put<uint64_t>(spm->token_type.size());
    for (const int32_t t : spm->token_type) w.Put<int32_t>(t);
    kv_u32("tokenizer.ggml.unknown_token_id", spm->unk_id);
    kv_u32("tokenizer.ggml.bos_token_id", spm->bos_id);
    kv_u32("tokenizer.ggml.eos_token_id", spm->eos_id);
    w.Str("tokenizer.ggml.add_space_prefix");
    w.Put<uint32_t>(7);
    w.Put<uint8_t>(spm->add_space_prefix ? 1 : 0);
  }
  if (bpe) {
    kv_str("tokenizer.ggml.pre", bpe->pre);
    w.Str("tokenizer.ggml.merges");
    w.Put<uint32_t>(9);
    w.Put<uint32_t>(8);
    w.Put<uint64_t>(bpe->merges.size());
    for (const std::string& m : bpe->merges) w.Str(m);
    if (!bpe->token_type.empty()) {
      w.Str("tokenizer.ggml.token_type");
      w.Put<uint32_t>(9);
      w.Put<uint32_t>(5);
      w.Put<uint64_t>(bpe->token_type.size());
      for (const int32_t t : bpe->token_type) w.Put<int32_t>(t);
    }
  }
  // The directory, then the data (each tensor at a multiple of 32).
  std::vector<std::vector<uint8_t>> data;
  uint64_t offset = 0;
  for (const TensorInfo& t : ckpt.tensors()) {
    const int64_t rows = t.shape.size() == 2 ? t.shape[0] : 1, cols = t.shape.back();
    const GgmlType type = t.shape.size() == 2 ? type_of(t.name, rows, cols) : GgmlType::kF32;
    std::vector<float> v(t.numel());
    QSWEEP_CHECK(ckpt.ReadSlice(t.name, 0, 0, t.shape[0], v).ok());
    const bool permuted = arch == "llama" && (t.name.ends_with("q_proj.weight") || t.name.ends_with("k_proj.weight"));
    const int64_t hd = c.head_dim, half = hd / 2;
    std::vector<uint8_t> bytes;
    for (int64_t g = 0; g < rows; ++g) {
      // The file's row g = h·hd + 2b + a holds HF's row h·hd + a·hd/2 + b.
      const int64_t h = g / hd, i = g % hd;
      const int64_t src = permuted ? h * hd + (i % 2) * half + i / 2 : g;
      const std::vector<uint8_t> row = QuantizeGgmlRow(type, v.data() + src * cols, cols);
      QSWEEP_CHECK(!row.empty());
      bytes.insert(bytes.end(), row.begin(), row.end());
    }
    w.Str(GgufName(t.name));
    w.Put<uint32_t>(t.shape.size());
    w.Put<uint64_t>(cols);
    if (t.shape.size() == 2) w.Put<uint64_t>(rows);
    w.Put<uint32_t>(static_cast<uint32_t>(type));
    w.Put<uint64_t>(offset);
    offset += (bytes.size() + 31) / 32 * 32;
    data.push_back(std::move(bytes));
  }
  std::vector<uint8_t>& out = w.bytes();
  out.resize((out.size() + 31) / 32 * 32, 0);
  for (auto& d : data) {
    out.insert(out.end(), d.begin(), d.end());
    out.resize((out.size() + 31) / 32 * 32, 0);
  }
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace qsweep::testing
