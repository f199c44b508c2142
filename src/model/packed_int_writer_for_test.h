// Writes GPTQ, AWQ and compressed-tensors checkpoints (safetensors with
// quantization_config) from a model folder, packing codes the way AutoGPTQ,
// AutoAWQ and llm-compressor do, written out literally here: the fixtures of
// model/gptq_awq_checkpoint_test.cc and of the sweeps with such entries
// (tests/fixtures/write_packed_int.cc). Every projection gets random 4-bit
// codes, zeros and scales (groups of 32); what it must read back as is
// returned; the other tensors are the source's, in bf16.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "model/checkpoint.h"

namespace qsweep::testing {

namespace packed_int_detail {

namespace fs = std::filesystem;
using nlohmann::json;

struct Raw {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

inline void WriteSafetensors(const fs::path& path, const std::map<std::string, Raw>& tensors) {
  json header;
  std::string data;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  const std::string h = header.dump();
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// One layer quantized to 4-bit codes with per-group scales and zeros, and
// what W must read back as.
struct Layer {
  int64_t out, in, group;
  std::vector<int32_t> code;   // [out, in]
  std::vector<int32_t> zero;   // [groups, out]
  std::vector<uint16_t> scale; // [groups, out] fp16
  std::vector<int32_t> g_idx;  // [in]
  std::vector<float> want;     // [out, in]
};

// symmetric: every zero point 8 (compressed-tensors' symmetric offset);
// bf16: scales of 8 significant bits, which bf16 and fp16 both hold.
inline Layer Quantize(int64_t out, int64_t in, int64_t group, bool act_order, std::mt19937& rng, bool symmetric = false,
               bool bf16 = false) {
  Layer l{out, in, group, {}, {}, {}, {}, {}};
  const int64_t groups = in / group;
  l.code.resize(out * in);
  l.zero.resize(groups * out);
  l.scale.resize(groups * out);
  l.g_idx.resize(in);
  for (int64_t i = 0; i < in; ++i) l.g_idx[i] = static_cast<int32_t>(i / group);
  if (act_order) std::shuffle(l.g_idx.begin(), l.g_idx.end(), rng);  // GPTQ desc_act: groups follow the column order
  for (auto& c : l.code) c = static_cast<int32_t>(rng() % 16);
  for (auto& z : l.zero) z = symmetric ? 8 : static_cast<int32_t>(1 + rng() % 14);  // GPTQ v1 stores zero - 1: keep it >= 1
  for (auto& s : l.scale)
    s = FloatToF16(std::ldexp(1.0f + (rng() % (bf16 ? 128 : 1000)) / (bf16 ? 128.0f : 1000.0f),
                              -8 - static_cast<int>(rng() % 4)));
  l.want.resize(out * in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      const int64_t g = l.g_idx[i];
      l.want[o * in + i] = F16ToFloat(l.scale[g * out + o]) * static_cast<float>(l.code[o * in + i] - l.zero[g * out + o]);
    }
  return l;
}

// AutoGPTQ: qweight [in/8, out], nibble j of word (r, o) = code of input 8r + j;
// qzeros [groups, out/8], nibble j of word (g, c) = zero of output 8c + j, minus 1.
inline void PackGptq(const Layer& l, const std::string& prefix, std::map<std::string, Raw>& t) {
  std::vector<int32_t> qw(l.in / 8 * l.out, 0), qz(l.in / l.group * l.out / 8, 0);
  for (int64_t i = 0; i < l.in; ++i)
    for (int64_t o = 0; o < l.out; ++o)
      qw[(i / 8) * l.out + o] |= static_cast<int32_t>(static_cast<uint32_t>(l.code[o * l.in + i]) << (4 * (i % 8)));
  for (int64_t g = 0; g < l.in / l.group; ++g)
    for (int64_t o = 0; o < l.out; ++o)
      qz[g * (l.out / 8) + o / 8] |= static_cast<int32_t>(static_cast<uint32_t>(l.zero[g * l.out + o] - 1) << (4 * (o % 8)));
  t[prefix + ".qweight"] = {"I32", {l.in / 8, l.out}, Bytes(qw)};
  t[prefix + ".qzeros"] = {"I32", {l.in / l.group, l.out / 8}, Bytes(qz)};
  t[prefix + ".scales"] = {"F16", {l.in / l.group, l.out}, Bytes(l.scale)};
  t[prefix + ".g_idx"] = {"I32", {l.in}, Bytes(l.g_idx)};
}

// AutoAWQ (GEMM): qweight [in, out/8] and qzeros [groups, out/8], nibble k of
// word (r, c) = column 8c + order[k], order = {0, 2, 4, 6, 1, 3, 5, 7}.
inline void PackAwq(const Layer& l, const std::string& prefix, std::map<std::string, Raw>& t) {
  const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<int32_t> qw(l.in * l.out / 8, 0), qz(l.in / l.group * l.out / 8, 0);
  for (int64_t i = 0; i < l.in; ++i)
    for (int64_t c = 0; c < l.out / 8; ++c)
      for (int k = 0; k < 8; ++k)
        qw[i * (l.out / 8) + c] |= static_cast<int32_t>(static_cast<uint32_t>(l.code[(8 * c + order[k]) * l.in + i]) << (4 * k));
  for (int64_t g = 0; g < l.in / l.group; ++g)
    for (int64_t c = 0; c < l.out / 8; ++c)
      for (int k = 0; k < 8; ++k)
        qz[g * (l.out / 8) + c] |= static_cast<int32_t>(static_cast<uint32_t>(l.zero[g * l.out + 8 * c + order[k]]) << (4 * k));
  t[prefix + ".qweight"] = {"I32", {l.in, l.out / 8}, Bytes(qw)};
  t[prefix + ".qzeros"] = {"I32", {l.in / l.group, l.out / 8}, Bytes(qz)};
  t[prefix + ".scales"] = {"F16", {l.in / l.group, l.out}, Bytes(l.scale)};
}

// compressed-tensors' pack-quantized (llm-compressor): weight_packed
// [out, in/8], nibble j of word (o, c) = code of input 8c + j (stored as
// the signed code + 8); weight_zero_point [out/8, groups], nibble j of word
// (r, g) = zero of output 8r + j (asymmetric only); weight_scale
// [out, groups] in bf16; weight_shape; weight_g_idx with act order.
inline void PackCompressed(const Layer& l, const std::string& prefix, bool symmetric, bool act_order,
                    std::map<std::string, Raw>& t) {
  const int64_t groups = l.in / l.group;
  std::vector<int32_t> qw(l.out * (l.in / 8), 0), qz(l.out / 8 * groups, 0);
  for (int64_t o = 0; o < l.out; ++o)
    for (int64_t i = 0; i < l.in; ++i)
      qw[o * (l.in / 8) + i / 8] |= static_cast<int32_t>(static_cast<uint32_t>(l.code[o * l.in + i]) << (4 * (i % 8)));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < l.out; ++o)
      qz[(o / 8) * groups + g] |= static_cast<int32_t>(static_cast<uint32_t>(l.zero[g * l.out + o]) << (4 * (o % 8)));
  std::vector<uint16_t> scale(l.out * groups);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < l.out; ++o) scale[o * groups + g] = FloatToBF16(F16ToFloat(l.scale[g * l.out + o]));
  t[prefix + ".weight_packed"] = {"I32", {l.out, l.in / 8}, Bytes(qw)};
  if (!symmetric) t[prefix + ".weight_zero_point"] = {"I32", {l.out / 8, groups}, Bytes(qz)};
  t[prefix + ".weight_scale"] = {"BF16", {l.out, groups}, Bytes(scale)};
  t[prefix + ".weight_shape"] = {"I32", {2}, Bytes(std::vector<int32_t>{static_cast<int32_t>(l.out), static_cast<int32_t>(l.in)})};
  if (act_order) t[prefix + ".weight_g_idx"] = {"I32", {l.in}, Bytes(l.g_idx)};
}

}  // namespace packed_int_detail

using PackedIntLayer = packed_int_detail::Layer;

// The model folder `source` (config.json + safetensors) as a `method`
// checkpoint ("gptq", "awq", "ct": compressed-tensors asymmetric, "ct-sym")
// in `dir`; returns the projections written, by tensor name.
inline std::map<std::string, PackedIntLayer> WritePackedIntCheckpoint(const std::filesystem::path& source,
                                                                      const std::filesystem::path& dir,
                                                                      const std::string& method, bool act_order,
                                                                      uint32_t seed = 5) {
  using namespace packed_int_detail;
  auto src = OpenCheckpoint(source.string());
  if (!src.ok()) return {};
  fs::create_directories(dir);
  std::ifstream cin(source / "config.json");
  json config = json::parse(cin);
  const bool ct = method.starts_with("ct"), symmetric = method == "ct-sym";
  config["quantization_config"] =
      method == "gptq" ? json{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 32}, {"desc_act", act_order}, {"sym", false}}
      : ct ? json{{"quant_method", "compressed-tensors"}, {"format", "pack-quantized"}, {"ignore", {"lm_head"}},
                  {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"input_activations", nullptr},
                                                  {"weights", {{"num_bits", 4}, {"type", "int"}, {"symmetric", symmetric},
                                                               {"strategy", "group"}, {"group_size", 32}}}}}}}}
           : json{{"quant_method", "awq"}, {"bits", 4}, {"group_size", 32}, {"version", "gemm"}, {"zero_point", true}};
  std::ofstream(dir / "config.json") << config.dump();
  std::mt19937 rng(seed);
  std::map<std::string, Raw> tensors;
  std::map<std::string, Layer> layers;
  for (const TensorInfo& t : (*src)->tensors()) {
    if (t.name.ends_with("proj.weight")) {
      const std::string prefix = t.name.substr(0, t.name.size() - 7);
      Layer l = Quantize(t.shape[0], t.shape[1], 32, act_order, rng, symmetric, ct);
      if (ct) PackCompressed(l, prefix, symmetric, act_order, tensors);
      else if (method == "gptq") PackGptq(l, prefix, tensors);
      else PackAwq(l, prefix, tensors);
      layers.emplace(t.name, std::move(l));
    } else {
      auto v = (*src)->ReadAll(t.name);
      std::vector<uint16_t> bf(v->size());
      for (size_t i = 0; i < bf.size(); ++i) bf[i] = FloatToBF16((*v)[i]);
      tensors[t.name] = {"BF16", t.shape, Bytes(bf)};
    }
  }
  WriteSafetensors(dir / "model.safetensors", tensors);
  return layers;
}

}  // namespace qsweep::testing
