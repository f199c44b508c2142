#include "model/llama2c_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kStories = testing::SharedData("models/stories260K/stories260K.bin");

// stories260K's shapes, from the data manifest.
constexpr int64_t D = 64, H = 172, L = 5, NH = 8, NKV = 4, V = 512, S = 512, HD = D / NH;
constexpr int64_t KVD = NKV * HD;

// Float offsets of each array in the file (after the 28-byte header), in
// llama2.c's order, computed here independently of the reader.
struct Offsets {
  int64_t emb = 0;
  int64_t rms_att = emb + V * D;
  int64_t wq = rms_att + L * D;
  int64_t wk = wq + L * D * D;
  int64_t wv = wk + L * KVD * D;
  int64_t wo = wv + L * KVD * D;
  int64_t rms_ffn = wo + L * D * D;
  int64_t w1 = rms_ffn + L * D;
  int64_t w2 = w1 + L * H * D;
  int64_t w3 = w2 + L * D * H;
  int64_t rms_final = w3 + L * H * D;
  int64_t freq = rms_final + D;
  int64_t end = freq + 2 * S * HD / 2;
};

std::vector<float> ReadRaw(const fs::path& file, int64_t float_offset, int64_t n) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(28 + float_offset * 4);
  std::vector<float> v(n);
  in.read(reinterpret_cast<char*>(v.data()), n * 4);
  EXPECT_TRUE(in.good());
  return v;
}

std::vector<float> Row(const Checkpoint& ck, const std::string& name, int64_t r) {
  const int64_t cols = ck.Find(name)->shape[1];
  std::vector<float> out(cols);
  EXPECT_TRUE(ck.ReadSlice(name, 0, r, r + 1, out).ok());
  return out;
}

TEST(Llama2c, Stories260KConfig) {
  QSWEEP_REQUIRE_FILE(kStories);
  ASSERT_EQ(static_cast<int64_t>(fs::file_size(kStories)), 28 + Offsets{}.end * 4);
  auto ck = OpenLlama2cCheckpoint(kStories.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  const ModelConfig& c = (*ck)->config();
  EXPECT_EQ(c.hidden_size, D);
  EXPECT_EQ(c.intermediate_size, H);
  EXPECT_EQ(c.num_layers, L);
  EXPECT_EQ(c.num_heads, NH);
  EXPECT_EQ(c.num_kv_heads, NKV);
  EXPECT_EQ(c.head_dim, HD);
  EXPECT_EQ(c.vocab_size, V);
  EXPECT_EQ(c.max_position_embeddings, S);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kDefault);
  EXPECT_EQ(c.dtype, DType::kF32);
  ASSERT_EQ((*ck)->tensors().size(), 1u + L * 9 + 1);
  const auto expected = ExpectedTensors(c);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*ck)->tensors()[i].name, expected[i].name);
    EXPECT_EQ((*ck)->tensors()[i].shape, expected[i].shape);
  }
  EXPECT_EQ((*ck)->Find("lm_head.weight"), nullptr);
  EXPECT_EQ((*ck)->content_id().size(), 16u);
}

TEST(Llama2c, ValuesMatchTheRawFile) {
  QSWEEP_REQUIRE_FILE(kStories);
  auto ck = OpenLlama2cCheckpoint(kStories.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  const Offsets o;
  const Checkpoint& k = **ck;
  EXPECT_EQ(Row(k, "model.embed_tokens.weight", 7), ReadRaw(kStories, o.emb + 7 * D, D));
  EXPECT_EQ(*k.ReadAll("model.layers.2.input_layernorm.weight"),
            ReadRaw(kStories, o.rms_att + 2 * D, D));
  EXPECT_EQ(*k.ReadAll("model.layers.4.post_attention_layernorm.weight"),
            ReadRaw(kStories, o.rms_ffn + 4 * D, D));
  EXPECT_EQ(*k.ReadAll("model.norm.weight"), ReadRaw(kStories, o.rms_final, D));
  // Unpermuted projections: row r is row r.
  EXPECT_EQ(Row(k, "model.layers.3.self_attn.v_proj.weight", 5),
            ReadRaw(kStories, o.wv + 3 * KVD * D + 5 * D, D));
  EXPECT_EQ(Row(k, "model.layers.1.self_attn.o_proj.weight", 60),
            ReadRaw(kStories, o.wo + 1 * D * D + 60 * D, D));
  EXPECT_EQ(Row(k, "model.layers.0.mlp.gate_proj.weight", 171),
            ReadRaw(kStories, o.w1 + 0 * H * D + 171 * D, D));
  EXPECT_EQ(Row(k, "model.layers.2.mlp.down_proj.weight", 9),
            ReadRaw(kStories, o.w2 + 2 * D * H + 9 * H, H));
  EXPECT_EQ(Row(k, "model.layers.4.mlp.up_proj.weight", 100),
            ReadRaw(kStories, o.w3 + 4 * H * D + 100 * D, D));
  // wq, head 3, second half (p = 1), i = 2: HF row 3*8 + 4 + 2 = 30 is
  // llama2.c row 3*8 + 2*2 + 1 = 29.
  EXPECT_EQ(Row(k, "model.layers.1.self_attn.q_proj.weight", 30),
            ReadRaw(kStories, o.wq + 1 * D * D + 29 * D, D));
  // ... and HF row 3*8 + 2 (p = 0, i = 2) is llama2.c row 3*8 + 4.
  EXPECT_EQ(Row(k, "model.layers.1.self_attn.q_proj.weight", 26),
            ReadRaw(kStories, o.wq + 1 * D * D + 28 * D, D));
  // wk, kv head 2, p = 1, i = 3: HF row 16 + 4 + 3 = 23 is llama2.c row 16 + 7 = 23;
  // p = 0, i = 3: HF row 19 is llama2.c row 22.
  EXPECT_EQ(Row(k, "model.layers.4.self_attn.k_proj.weight", 23),
            ReadRaw(kStories, o.wk + 4 * KVD * D + 23 * D, D));
  EXPECT_EQ(Row(k, "model.layers.4.self_attn.k_proj.weight", 19),
            ReadRaw(kStories, o.wk + 4 * KVD * D + 22 * D, D));
}

TEST(Llama2c, ColumnSliceOfPermutedTensor) {
  QSWEEP_REQUIRE_FILE(kStories);
  auto ck = OpenLlama2cCheckpoint(kStories.string());
  ASSERT_TRUE(ck.ok());
  const std::string name = "model.layers.0.self_attn.q_proj.weight";
  auto full = (*ck)->ReadAll(name);
  std::vector<float> cols(D * 10);
  ASSERT_TRUE((*ck)->ReadSlice(name, 1, 20, 30, cols).ok());
  for (int64_t r = 0; r < D; ++r)
    for (int64_t c = 20; c < 30; ++c) ASSERT_EQ(cols[r * 10 + c - 20], (*full)[r * D + c]);
}

// The permutation is what makes HF's rotate_half rotary on the converted q
// equal llama2.c's interleaved rotary on the original q.
TEST(Llama2c, PermutationTurnsInterleavedRopeIntoRotateHalf) {
  QSWEEP_REQUIRE_FILE(kStories);
  auto ck = OpenLlama2cCheckpoint(kStories.string());
  ASSERT_TRUE(ck.ok());
  const Offsets o;
  const std::vector<float> raw = ReadRaw(kStories, o.wq + 2 * D * D, D * D);
  const std::vector<float> hf = *(*ck)->ReadAll("model.layers.2.self_attn.q_proj.weight");
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> x(D);
  for (auto& v : x) v = normal(rng);
  auto matvec = [&](const std::vector<float>& w) {
    std::vector<double> y(D, 0.0);
    for (int64_t r = 0; r < D; ++r)
      for (int64_t c = 0; c < D; ++c) y[r] += w[r * D + c] * x[c];
    return y;
  };
  std::vector<double> ql = matvec(raw), qh = matvec(hf);
  const int pos = 37;
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t i = 0; i < HD / 2; ++i) {
      const double angle = pos * std::pow(10000.0, -2.0 * i / HD);
      const double cs = std::cos(angle), sn = std::sin(angle);
      // llama2.c run.c: pair (2i, 2i+1).
      double* a = &ql[h * HD + 2 * i];
      const double l0 = a[0] * cs - a[1] * sn, l1 = a[0] * sn + a[1] * cs;
      // HF rotate_half: pair (i, i + HD/2).
      const double x0 = qh[h * HD + i], x1 = qh[h * HD + i + HD / 2];
      const double h0 = x0 * cs - x1 * sn, h1 = x1 * cs + x0 * sn;
      EXPECT_NEAR(h0, l0, 1e-9);
      EXPECT_NEAR(h1, l1, 1e-9);
    }
  }
}

TEST(Llama2c, RowMapIsAPermutationWithinEachHead) {
  for (int64_t hd : {2, 8, 128}) {
    std::set<int64_t> seen;
    for (int64_t r = 0; r < 3 * hd; ++r) {
      const int64_t src = Llama2cRowOfHfRow(r, hd);
      EXPECT_EQ(src / hd, r / hd);
      seen.insert(src);
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(3 * hd));
  }
  EXPECT_EQ(Llama2cRowOfHfRow(1, 8), 2);   // (p 0, i 1) <- 2i
  EXPECT_EQ(Llama2cRowOfHfRow(4, 8), 1);   // (p 1, i 0) <- 1
  EXPECT_EQ(Llama2cRowOfHfRow(7, 8), 7);   // (p 1, i 3) <- 7
}

TEST(Llama2c, TruncatedAndPaddedCopies) {
  QSWEEP_REQUIRE_FILE(kStories);
  const fs::path dir = testing::ScratchDir("llama2c_truncated");
  const fs::path copy = dir / "stories260K.bin";
  fs::copy_file(kStories, copy);
  fs::resize_file(copy, 1056540 - 4);
  auto ck = OpenLlama2cCheckpoint(copy.string());
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(),
              HasSubstr(copy.string() + ": truncated: the header (dim 64, hidden_dim 172, "
                                        "n_layers 5, n_heads 8, n_kv_heads 4, vocab_size 512, "
                                        "seq_len 512) implies 1056540 bytes but the file has "
                                        "1056536"));
  fs::resize_file(copy, 1056540 + 8);
  ck = OpenLlama2cCheckpoint(copy.string());
  EXPECT_THAT(ck.status().message(), HasSubstr("size mismatch"));
  fs::resize_file(copy, 20);
  ck = OpenLlama2cCheckpoint(copy.string());
  EXPECT_THAT(ck.status().message(), HasSubstr("truncated: 20 bytes, too short"));
}

// A header claiming 16.6 million layers in a file of 64 bytes is refused
// before a tensor list of that length is built (the fuzz target timed out).
TEST(Llama2c, AHeaderImplyingMoreThanTheFileIsRefusedAtOnce) {
  for (const auto& e : fs::directory_iterator(testing::RepoTestData("fuzz/llama2c"))) {
    auto ck = OpenLlama2cCheckpoint(e.path().string());
    ASSERT_FALSE(ck.ok()) << e.path();
    EXPECT_THAT(ck.status().message(), HasSubstr("truncated: the header"));
  }
}

void WriteInts(std::ostream& out, std::initializer_list<int32_t> v) {
  for (int32_t x : v) out.write(reinterpret_cast<const char*>(&x), 4);
}

// A hand-made file with a separate classifier (negative vocab_size): the
// classifier is the last array, after freq_cis.
TEST(Llama2c, SeparateClassifier) {
  const fs::path path = testing::ScratchDir("llama2c_wcls") / "m.bin";
  const int32_t d = 4, hid = 6, l = 1, nh = 2, nkv = 1, v = 3, s = 2, hs = 2;
  const int64_t before = v * d + l * d + l * d * d + 2 * l * nkv * hs * d + l * d * d + l * d +
                         3 * l * hid * d + d + 2 * s * hs / 2;
  {
    std::ofstream out(path, std::ios::binary);
    WriteInts(out, {d, hid, l, nh, nkv, -v, s});
    for (int64_t i = 0; i < before + v * d; ++i) {
      const float f = static_cast<float>(i);
      out.write(reinterpret_cast<const char*>(&f), 4);
    }
  }
  auto ck = OpenLlama2cCheckpoint(path.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_FALSE((*ck)->config().tie_word_embeddings);
  auto head = (*ck)->ReadAll("lm_head.weight");
  ASSERT_TRUE(head.ok());
  for (int64_t i = 0; i < v * d; ++i) ASSERT_EQ((*head)[i], static_cast<float>(before + i));
  // The same data read as shared is 12 floats too long.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    WriteInts(f, {v});
  }
  ck = OpenLlama2cCheckpoint(path.string());
  EXPECT_THAT(ck.status().message(), HasSubstr("size mismatch"));
}

TEST(Llama2c, BadHeader) {
  const fs::path path = testing::ScratchDir("llama2c_bad_header") / "m.bin";
  {
    std::ofstream out(path, std::ios::binary);
    WriteInts(out, {64, 172, 5, 7, 4, 512, 512});
  }
  auto ck = OpenLlama2cCheckpoint(path.string());
  EXPECT_THAT(ck.status().message(), HasSubstr("n_heads 7"));
  {
    std::ofstream out(path, std::ios::binary);
    WriteInts(out, {64, 0, 5, 8, 4, 512, 512});
  }
  ck = OpenLlama2cCheckpoint(path.string());
  EXPECT_THAT(ck.status().message(), HasSubstr("header field hidden_dim = 0 is out of range"));
}

TEST(Llama2c, OpenCheckpointDispatchesBinFiles) {
  QSWEEP_REQUIRE_FILE(kStories);
  auto ck = OpenCheckpoint(kStories.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ((*ck)->config().vocab_size, V);
  auto again = OpenCheckpoint(kStories.string());
  EXPECT_EQ((*ck)->content_id(), (*again)->content_id());
}

}  // namespace
}  // namespace qsweep
