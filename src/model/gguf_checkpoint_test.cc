// The GGUF reader on files its test writes from the tiny model (as llama.cpp's
// converter lays them out): the same weights back in HF's layout, exactly
// where stored in F32 and as their blocks' dequantization otherwise, the
// same forward; and every kind of broken or hostile file refused by name.
#include "model/gguf_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/decoder.h"
#include "model/fixed_sequence_for_test.h"
#include "model/gguf_writer_for_test.h"
#include "model/row_scores.h"
#include "quant/quantized_weights.h"
#include "scheme_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto src = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
    ASSERT_TRUE(src.ok()) << src.status();
    src_ = std::move(*src);
    dir_ = testing::ScratchDir(std::string("gguf_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string Write(const std::string& file, GgmlType type) {
    const std::string path = (dir_ / file).string();
    testing::WriteGguf(*src_, path, [type](const std::string&, int64_t, int64_t) { return type; });
    return path;
  }
  std::vector<uint8_t> Bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::string WriteBytes(const std::string& file, const std::vector<uint8_t>& b) {
    const std::string path = (dir_ / file).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
    return path;
  }
  std::unique_ptr<Checkpoint> src_;
  std::filesystem::path dir_;
};

TEST_F(GgufTest, F32FileReadsBackTheSameWeightsInHfLayout) {
  auto g = OpenCheckpoint(Write("f32.gguf", GgmlType::kF32));
  ASSERT_TRUE(g.ok()) << g.status();
  const ModelConfig &a = src_->config(), &b = (*g)->config();
  EXPECT_EQ(b.hidden_size, a.hidden_size);
  EXPECT_EQ(b.num_layers, a.num_layers);
  EXPECT_EQ(b.num_heads, a.num_heads);
  EXPECT_EQ(b.num_kv_heads, a.num_kv_heads);
  EXPECT_EQ(b.head_dim, a.head_dim);
  EXPECT_EQ(b.intermediate_size, a.intermediate_size);
  EXPECT_EQ(b.vocab_size, a.vocab_size);
  EXPECT_EQ(b.tie_word_embeddings, a.tie_word_embeddings);
  EXPECT_FLOAT_EQ(b.rms_norm_eps, a.rms_norm_eps);
  ASSERT_EQ((*g)->tensors().size(), src_->tensors().size());
  for (const TensorInfo& t : src_->tensors()) {
    SCOPED_TRACE(t.name);
    auto want = src_->ReadAll(t.name);
    auto got = (*g)->ReadAll(t.name);
    ASSERT_TRUE(want.ok() && got.ok()) << got.status();
    EXPECT_EQ(*got, *want);  // q and k rows back in HF's order
    if (t.shape.size() == 2) {
      // A tensor-parallel rank's slices: rows and columns.
      const int64_t rows = t.shape[0], cols = t.shape[1];
      std::vector<float> part((rows / 2) * cols), colpart(rows * (cols / 4));
      ASSERT_TRUE((*g)->ReadSlice(t.name, 0, rows / 2, rows / 2 + rows / 2, part).ok());
      EXPECT_TRUE(std::equal(part.begin(), part.end(), want->begin() + (rows / 2) * cols));
      ASSERT_TRUE((*g)->ReadSlice(t.name, 1, cols / 4, cols / 2, colpart).ok());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols / 4; ++j) ASSERT_EQ(colpart[r * (cols / 4) + j], (*want)[r * cols + cols / 4 + j]);
    }
  }
}

TEST_F(GgufTest, QuantizedFilesReadAsTheirBlocksDequantized) {
  for (const GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_1, GgmlType::kF16}) {
    const std::string name(GgmlTypeInfoOf(static_cast<uint32_t>(type))->name);
    SCOPED_TRACE(name);
    auto g = GgufCheckpoint::Open(Write(name + ".gguf", type));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_NEAR((*g)->bits_per_weight(), GgmlBitsPerWeight(type), 0.15);  // norms are F32
    for (const GgufTensorFormat& f : (*g)->formats())
      if (f.name.ends_with("proj.weight")) {
        EXPECT_EQ(f.format, name) << f.name;
      }
    for (const TensorInfo& t : src_->tensors()) {
      if (t.shape.size() != 2) continue;
      auto want = src_->ReadAll(t.name);
      auto got = (*g)->ReadAll(t.name);
      ASSERT_TRUE(want.ok() && got.ok());
      // Within half a quantization step of each block (scale ≈ block range / codes).
      const int64_t cols = t.shape[1];
      for (int64_t i = 0; i < static_cast<int64_t>(want->size()); i += 32) {
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t j = i; j < i + 32 && j < static_cast<int64_t>(want->size()); ++j) {
          lo = std::min(lo, (*want)[j]);
          hi = std::max(hi, (*want)[j]);
        }
        const float amax = std::max(std::fabs(lo), std::fabs(hi));
        const float step = type == GgmlType::kQ8_0 ? amax / 127 : type == GgmlType::kQ4_0 ? amax / 7
                         : type == GgmlType::kQ5_1 ? (hi - lo) / 31 : amax / 1024;
        for (int64_t j = i; j < i + 32 && j < static_cast<int64_t>(want->size()); ++j)
          ASSERT_LE(std::fabs((*got)[j] - (*want)[j]), 0.51f * step + 1e-6f * amax)
              << t.name << " element " << j << " of rows of " << cols;
      }
    }
  }
}

// Q4_0, Q5_0 and Q8_0 are qsweep's symmetric int formats with groups of 32:
// read as stored, their rows (q and k back in HF's order, any range)
// dequantize to what ReadSlice gives, bit for bit; a decoder asked to run
// stored formats loads every projection packed, and scores as the same
// weights dequantized to fp32 do. Other types stay as ReadSlice gives them.
TEST_F(GgufTest, SymmetricBlockTypesLoadAsPackedFormats) {
  for (const GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ5_1}) {
    const std::string name(GgmlTypeInfoOf(static_cast<uint32_t>(type))->name);
    SCOPED_TRACE(name);
    auto g = GgufCheckpoint::Open(Write(name + ".gguf", type));
    ASSERT_TRUE(g.ok()) << g.status();
    const bool packs = type != GgmlType::kQ5_1;
    for (const TensorInfo& t : src_->tensors()) {
      if (!t.name.ends_with("proj.weight")) continue;
      SCOPED_TRACE(t.name);
      const int64_t rows = t.shape[0], cols = t.shape[1];
      auto want = (*g)->ReadAll(t.name);
      ASSERT_TRUE(want.ok());
      auto whole = (*g)->ReadStoredRows(t.name, 0, rows);
      ASSERT_TRUE(whole.ok()) << whole.status();
      ASSERT_EQ(whole->has_value(), packs);
      if (!packs) continue;
      EXPECT_EQ((*whole)->format.bits, type == GgmlType::kQ4_0 ? 4 : type == GgmlType::kQ5_0 ? 5 : 8);
      EXPECT_EQ((*whole)->format.group, 32);
      std::vector<float> got(rows * cols);
      DequantizeWeights(**whole, got);
      EXPECT_EQ(got, *want);
      auto part = (*g)->ReadStoredRows(t.name, rows / 2 - 1, rows);
      ASSERT_TRUE(part.ok() && part->has_value());
      std::vector<float> got_part((rows - rows / 2 + 1) * cols);
      DequantizeWeights(**part, got_part);
      EXPECT_TRUE(std::equal(got_part.begin(), got_part.end(), want->begin() + (rows / 2 - 1) * cols));
    }
    EXPECT_FALSE((*g)->ReadStoredRows("model.norm.weight", 0, 1)->has_value()) << "a norm";
    EXPECT_FALSE((*g)->ReadStoredRows("model.layers.0.mlp.up_proj.weight", 0, 1 << 20).ok());

    const testing::FixedSequenceScores a = testing::ScoreFixedSequence(**g, {.scheme = TestScheme("fp32"),
                                                                             .stored_formats = true});
    const testing::FixedSequenceScores b = testing::ScoreFixedSequence(**g, {.scheme = TestScheme("fp32")});
    const ModelConfig& c = (*g)->config();
    EXPECT_EQ(a.projections, 7 * c.num_layers);
    EXPECT_EQ(b.projections, 7 * c.num_layers);
    EXPECT_EQ(a.stored_projections, packs ? testing::Group32StoredProjections(c) : 0);
    EXPECT_EQ(b.stored_projections, 0);
    ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
    for (size_t i = 0; i < a.logprobs.size(); ++i)
      ASSERT_NEAR(a.logprobs[i], b.logprobs[i], 1e-4f * (1 + std::fabs(b.logprobs[i]))) << i;
  }
}

TEST_F(GgufTest, AnF32FileRunsTheSameForward) {
  auto g = OpenCheckpoint(Write("f32.gguf", GgmlType::kF32));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(testing::ScoreFixedSequence(**g, {.scheme = TestScheme("bf16")}).logprobs,
            testing::ScoreFixedSequence(*src_, {.scheme = TestScheme("bf16")}).logprobs);
}

TEST_F(GgufTest, BrokenAndHostileFilesAreRefusedByName) {
  const std::string good = Write("good.gguf", GgmlType::kQ8_0);
  const std::vector<uint8_t> bytes = Bytes(good);
  auto refused = [&](const std::string& path, const std::string& why) {
    auto g = GgufCheckpoint::Open(path);
    ASSERT_FALSE(g.ok()) << why;
    EXPECT_NE(g.status().message().find(path), std::string::npos) << g.status();
    EXPECT_NE(g.status().message().find(why), std::string::npos) << g.status();
  };
  // Every truncation: a clear error, never a crash or a read past the end.
  for (size_t n : {size_t{0}, size_t{3}, size_t{8}, size_t{24}, size_t{100}, size_t{1000}, bytes.size() / 2,
                   bytes.size() - 1}) {
    auto g = GgufCheckpoint::Open(WriteBytes("cut.gguf", std::vector<uint8_t>(bytes.begin(), bytes.begin() + n)));
    EXPECT_FALSE(g.ok()) << n;
  }
  std::vector<uint8_t> b = bytes;
  b[0] = 'X';
  refused(WriteBytes("magic.gguf", b), "no GGUF magic number");
  b = bytes;
  b[4] = 2;
  refused(WriteBytes("v2.gguf", b), "GGUF version 2");
  // A tensor count of 2^60: refused before anything is sized by it.
  b = bytes;
  b[15] = 0x10;
  refused(WriteBytes("count.gguf", b), "tensors");
  // The first tensor's type (token_embd, after its name, dims and shape) turned into IQ2_XXS (16) and 999.
  const std::string embd = "token_embd.weight";
  const auto at = std::search(bytes.begin(), bytes.end(), embd.begin(), embd.end()) - bytes.begin();
  const size_t type_at = at + embd.size() + 4 + 2 * 8;
  b = bytes;
  b[type_at] = 16;
  refused(WriteBytes("iq2.gguf", b), "tensor 'token_embd.weight' is IQ2_XXS");
  b[type_at] = 0xE7;
  b[type_at + 1] = 0x03;
  refused(WriteBytes("unknown.gguf", b), "unknown ggml type 999");
  // Its offset pointed past the end of the file.
  b = bytes;
  b[type_at + 4 + 7] = 0x40;
  refused(WriteBytes("offset.gguf", b), "do not fit the file");
  // Another architecture.
  b = bytes;
  const std::string llama = "llama";
  const auto arch = std::search(b.begin(), b.end(), llama.begin(), llama.end());
  std::copy_n("gemma", 5, arch);
  refused(WriteBytes("arch.gguf", b), "architecture 'gemma' is not supported");
  // A block count of 4e9 (the fuzz target's finding: a list of 36e9 expected
  // tensors was sized by it): refused before anything is sized.
  b = bytes;
  const std::string blocks = "llama.block_count";
  const auto key = std::search(b.begin(), b.end(), blocks.begin(), blocks.end()) - b.begin();
  std::fill_n(b.begin() + key + blocks.size() + 4, 4, 0xEE);
  refused(WriteBytes("blocks.gguf", b), "implausible GGUF shapes");
  EXPECT_FALSE(OpenCheckpoint((dir_ / "none.gguf").string()).ok());
}

}  // namespace
}  // namespace qsweep
