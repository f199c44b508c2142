// GPTQ, AWQ and compressed-tensors checkpoints (safetensors with
// quantization_config), written from the tiny model by packing codes the way
// AutoGPTQ, AutoAWQ and llm-compressor do (model/packed_int_writer_for_test.h,
// the packing written out literally): every projection reads back as
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
#include "model/packed_int_writer_for_test.h"
#include "quant/quantized_weights.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class PackedIntCheckpointTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Writes the tiny model as a `method` checkpoint; returns the layers written.
  std::map<std::string, testing::PackedIntLayer> Write(const fs::path& dir, const std::string& method, bool act_order) {
    return testing::WritePackedIntCheckpoint(testing::RepoTestData("tiny/model"), dir, method, act_order);
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
