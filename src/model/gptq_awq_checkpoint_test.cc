// GPTQ, AWQ and compressed-tensors checkpoints (safetensors with
// quantization_config), written here from the tiny model by packing codes
// the way AutoGPTQ, AutoAWQ and llm-compressor do,
// written out literally in this file: every projection reads back as
// scale · (code − zero) of the codes written, act-order groups included, and
// broken ones are refused by name.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "model/checkpoint.h"
#include "model/fixed_sequence_for_test.h"
#include "quant/quantized_weights.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Raw {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

void WriteSafetensors(const fs::path& path, const std::map<std::string, Raw>& tensors) {
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
Layer Quantize(int64_t out, int64_t in, int64_t group, bool act_order, std::mt19937& rng, bool symmetric = false,
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
void PackGptq(const Layer& l, const std::string& prefix, std::map<std::string, Raw>& t) {
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
void PackAwq(const Layer& l, const std::string& prefix, std::map<std::string, Raw>& t) {
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
void PackCompressed(const Layer& l, const std::string& prefix, bool symmetric, bool act_order,
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

class PackedIntCheckpointTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Writes the tiny model as a `method` checkpoint; returns the layers written.
  std::map<std::string, Layer> Write(const fs::path& dir, const std::string& method, bool act_order) {
    auto src = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
    EXPECT_TRUE(src.ok());
    fs::create_directories(dir);
    std::ifstream cin(testing::RepoTestData("tiny/model/config.json"));
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
    std::mt19937 rng(5);
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
};

TEST_P(PackedIntCheckpointTest, EveryProjectionReadsBackAsItsCodes) {
  for (const bool act_order : {false, true}) {
    if (GetParam() == "awq" && act_order) continue;
    const fs::path dir = testing::ScratchDir("packed_int_" + GetParam() + (act_order ? "_act" : ""));
    const auto layers = Write(dir, GetParam(), act_order);
    auto ck = OpenCheckpoint(dir.string());
    ASSERT_TRUE(ck.ok()) << ck.status();
    for (const auto& [name, l] : layers) {
      auto got = (*ck)->ReadAll(name);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, l.want) << name << (act_order ? " (act order)" : "");
      // A tensor-parallel rank's rows and columns.
      std::vector<float> rows((l.out / 2) * l.in), cols(l.out * (l.in / 2));
      ASSERT_TRUE((*ck)->ReadSlice(name, 0, l.out / 2, l.out, rows).ok());
      EXPECT_TRUE(std::equal(rows.begin(), rows.end(), l.want.begin() + (l.out / 2) * l.in)) << name;
      ASSERT_TRUE((*ck)->ReadSlice(name, 1, 0, l.in / 2, cols).ok());
      for (int64_t o = 0; o < l.out; ++o)
        for (int64_t i = 0; i < l.in / 2; ++i) ASSERT_EQ(cols[o * (l.in / 2) + i], l.want[o * l.in + i]) << name;
    }
    // Read as stored: qsweep's asymmetric int4 g32, the same weights bit for
    // bit (any row range); act-order groups have no such form.
    for (const auto& [name, l] : layers) {
      auto q = (*ck)->ReadStoredRows(name, l.out / 4, l.out);
      ASSERT_TRUE(q.ok()) << q.status();
      ASSERT_EQ(q->has_value(), !act_order) << name;
      if (act_order) continue;
      EXPECT_EQ((*q)->format.asymmetric, GetParam() != "ct-sym") << name;
      EXPECT_TRUE((*q)->format.bits == 4 && (*q)->format.group == 32) << name;
      std::vector<float> w((l.out - l.out / 4) * l.in);
      DequantizeWeights(**q, w);
      ASSERT_TRUE(std::equal(w.begin(), w.end(), l.want.begin() + (l.out / 4) * l.in)) << name;
    }
    EXPECT_FALSE((*ck)->ReadStoredRows("model.norm.weight", 0, 1)->has_value());
    // Sizes as stored: 4-bit codes, fp16 scales and 4-bit zeros per 32 weights (+ g_idx).
    const auto stored = (*ck)->stored_formats();
    ASSERT_FALSE(stored.empty());
    int packed = 0;
    for (const StoredFormat& f : stored)
      if (f.format == GetParam().substr(0, GetParam().starts_with("ct") ? 2 : 4) + "-int4-g32") ++packed;
    EXPECT_EQ(packed, static_cast<int>(layers.size()));
  }
}

// A decoder asked for stored formats runs the layers packed (those whose
// tensor-parallel parts are whole groups) and scores as the same weights
// dequantized to fp32 do.
TEST_P(PackedIntCheckpointTest, DecoderRunsTheLayersPacked) {
  const fs::path dir = testing::ScratchDir("packed_int_decoder_" + GetParam());
  Write(dir, GetParam(), false);
  auto ck = OpenCheckpoint(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  const testing::FixedSequenceScores a =
      testing::ScoreFixedSequence(**ck, {.scheme = TestScheme("fp32"), .stored_formats = true});
  const testing::FixedSequenceScores b = testing::ScoreFixedSequence(**ck, {.scheme = TestScheme("fp32")});
  EXPECT_EQ(a.stored_projections, testing::Group32StoredProjections((*ck)->config()));
  EXPECT_EQ(b.stored_projections, 0);
  ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
  for (size_t i = 0; i < a.logprobs.size(); ++i)
    ASSERT_NEAR(a.logprobs[i], b.logprobs[i], 1e-4f * (1 + std::fabs(b.logprobs[i]))) << i;
}

TEST_P(PackedIntCheckpointTest, BrokenCheckpointsAreRefusedByName) {
  const fs::path dir = testing::ScratchDir("packed_int_bad_" + GetParam());
  Write(dir, GetParam(), false);
  json config = json::parse(std::ifstream(dir / "config.json"));
  auto with = [&](const json& q, const std::string& why) {
    json c = config;
    c["quantization_config"] = q;
    std::ofstream(dir / "config.json") << c.dump();
    auto ck = OpenCheckpoint(dir.string());
    ASSERT_FALSE(ck.ok()) << why;
    EXPECT_NE(ck.status().message().find(why), std::string::npos) << ck.status();
  };
  const bool ct = GetParam().starts_with("ct");
  // Where the scheme's numbers sit: top level, or compressed-tensors' group.
  auto weights = [&](json& q) -> json& { return ct ? q["config_groups"]["group_0"]["weights"] : q; };
  json q = config["quantization_config"];
  weights(q)["group_size"] = 48;  // does not divide 128
  with(q, "group size 48 does not divide");
  q = config["quantization_config"];
  weights(q)[ct ? "num_bits" : "bits"] = 8;  // the files hold 4-bit words: shapes disagree
  with(q, GetParam() == "awq" ? "AWQ packs 4-bit codes" : ct ? "weight_packed" : "qweight");
  if (ct) {
    q = config["quantization_config"];
    q["config_groups"]["group_0"]["input_activations"] = {{"num_bits", 8}, {"type", "int"}};
    with(q, "quantizes activations (only weight-only schemes are read)");
    q = config["quantization_config"];
    q["format"] = "int-quantized";
    with(q, "compressed-tensors format 'int-quantized' (only pack-quantized is read)");
  }
  q = config["quantization_config"];
  q["quant_method"] = "exl2";
  with(q, "quant_method 'exl2' is not supported");
  std::ofstream(dir / "config.json") << config.dump();
  ASSERT_TRUE(OpenCheckpoint(dir.string()).ok());
}

INSTANTIATE_TEST_SUITE_P(Methods, PackedIntCheckpointTest, ::testing::Values("gptq", "awq", "ct", "ct-sym"));

}  // namespace
}  // namespace qsweep
