// Checkpoint::ReadBlockBF16: every reader's blocks of bf16 bits are the
// bits of the same block of ReadAll's values, for the readers' own
// implementations (synthetic, safetensors) and the default one; bad
// requests are refused naming the tensor.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "model/checkpoint.h"
#include "model/forwarding_checkpoint_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

// Reads through ReadSlice only, so ReadBlockBF16 is the base class's.
using SliceOnly = testing::ForwardingCheckpoint;

std::unique_ptr<Checkpoint> Open(const std::string& spec) {
  auto c = OpenCheckpoint(spec);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// Random blocks of every 2-D tensor, the whole tensor and single rows and
// columns among them.
void ExpectBlocksAreTheValuesBits(const Checkpoint& ck) {
  std::mt19937_64 rng(7);
  int checked = 0;
  for (const TensorInfo& t : ck.tensors()) {
    if (t.shape.size() != 2) continue;
    ASSERT_EQ(t.dtype, DType::kBF16) << t.name;
    const int64_t rows = t.shape[0], cols = t.shape[1];
    auto full = ck.ReadAll(t.name);
    ASSERT_TRUE(full.ok()) << full.status();
    std::vector<std::array<int64_t, 4>> blocks = {{0, rows, 0, cols}, {rows - 1, rows, 0, 1}, {0, 1, cols - 1, cols}};
    for (int i = 0; i < 4; ++i) {
      const int64_t r0 = rng() % rows, c0 = rng() % cols;
      blocks.push_back({r0, r0 + 1 + static_cast<int64_t>(rng() % (rows - r0)), c0,
                        c0 + 1 + static_cast<int64_t>(rng() % (cols - c0))});
    }
    for (const auto& [r0, r1, c0, c1] : blocks) {
      std::vector<uint16_t> bits((r1 - r0) * (c1 - c0));
      ASSERT_TRUE(ck.ReadBlockBF16(t.name, r0, r1, c0, c1, bits).ok()) << t.name;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          const float want = (*full)[r * cols + c];
          ASSERT_EQ(bits[(r - r0) * (c1 - c0) + (c - c0)], FloatToBF16(want))
              << t.name << " [" << r << ", " << c << "] of block [" << r0 << ", " << r1 << ") x [" << c0 << ", "
              << c1 << ")";
          ASSERT_EQ(BF16ToFloat(FloatToBF16(want)), want);  // the values are bf16's: the bits are exact
        }
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(Bf16Blocks, SyntheticBlocksAreTheValuesBits) {
  auto ck = Open("synthetic:tiny-llama3@3");
  ExpectBlocksAreTheValuesBits(*ck);
  ExpectBlocksAreTheValuesBits(SliceOnly(Open("synthetic:tiny-llama3@3")));
}

TEST(Bf16Blocks, SafetensorsBlocksAreTheStoredBits) {
  for (const char* dir : {"tiny/model", "models/qwen2_features"}) {
    const std::string path = testing::RepoTestData(dir).string();
    ExpectBlocksAreTheValuesBits(*Open(path));
    ExpectBlocksAreTheValuesBits(SliceOnly(Open(path)));
  }
}

TEST(Bf16Blocks, BadBlocksAreRefusedNamingTheTensor) {
  auto ck = Open("synthetic:tiny");
  const std::string w = "model.layers.0.mlp.up_proj.weight";  // [176, 64]
  std::vector<uint16_t> bits(176 * 64);
  auto error = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1, size_t n, const std::string& name) {
    return std::string(ck->ReadBlockBF16(name, r0, r1, c0, c1, std::span(bits).first(n)).message());
  };
  EXPECT_THAT(error(0, 2, 60, 65, 10, w), HasSubstr("'" + w + "': columns [60, 65) are outside [0, 64)"));
  EXPECT_THAT(error(170, 177, 0, 64, 7 * 64, w), HasSubstr("slice [170, 177) of axis 0 is outside [0, 176)"));
  EXPECT_THAT(error(0, 2, 0, 64, 127, w), HasSubstr("output holds 127 values but the block has 128"));
  EXPECT_THAT(error(0, 2, 3, 1, 0, w), HasSubstr("columns [3, 1)"));
  EXPECT_THAT(error(0, 2, 0, 1, 2, "model.norm.weight"), HasSubstr("only a 2-D tensor is read as a block"));
  EXPECT_THAT(error(0, 1, 0, 1, 1, "nope.weight"), HasSubstr("no tensor 'nope.weight'"));
  // A tensor stored in another dtype (stories260K: a llama2.c file of fp32).
  auto f32 = Open(testing::SharedData("models/stories260K/stories260K.bin").string());
  ASSERT_NE(f32, nullptr);
  std::vector<uint16_t> one(f32->tensors()[1].numel());
  const TensorInfo* q = f32->Find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  const absl::Status st = f32->ReadBlockBF16(q->name, 0, 1, 0, 1, std::span(one).first(1));
  EXPECT_THAT(st.message(), HasSubstr("'model.layers.0.self_attn.q_proj.weight': stored as F32, not bf16"));
}

}  // namespace
}  // namespace qsweep
