// WriteSafetensorsCheckpoint: a checkpoint written out and opened again is
// the same checkpoint (config, every tensor bit for bit, shards and index
// as transformers lays them out); bad targets are refused.
#include "model/safetensors_writer.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/hf_config.h"
#include "test_paths.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::unique_ptr<Checkpoint> Open(const std::string& spec) {
  auto c = OpenCheckpoint(spec);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

void ExpectSameCheckpoint(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(HfConfigJson(a.config()), HfConfigJson(b.config()));
  EXPECT_EQ(a.config().ParameterCount(), b.config().ParameterCount());
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const TensorInfo &x = a.tensors()[i], &y = b.tensors()[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.dtype, y.dtype) << x.name;
    auto u = a.ReadAll(x.name), v = b.ReadAll(y.name);
    ASSERT_TRUE(u.ok() && v.ok()) << x.name;
    ASSERT_EQ(*u, *v) << x.name;
  }
}

TEST(SafetensorsWriter, ConfigsReadBackAsTheyWere) {
  for (const char* name : {"tiny", "tiny-llama3", "llama3-70b", "llama3.2-1b", "qwen2-0.5b-like", "llama2-7b"}) {
    auto ck = Open(std::string("synthetic:") + name);
    auto back = ParseHfConfig(HfConfigJson(ck->config()), name);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(HfConfigJson(*back), HfConfigJson(ck->config())) << name;
    EXPECT_EQ(back->rope_scaling.type, ck->config().rope_scaling.type) << name;
    EXPECT_EQ(back->attention_bias, ck->config().attention_bias) << name;
    EXPECT_EQ(back->tie_word_embeddings, ck->config().tie_word_embeddings) << name;
    EXPECT_EQ(back->rope_theta, ck->config().rope_theta) << name;
  }
}

// Shards small enough that the tiny models need several: the index names
// every tensor's file, each file holds what the index says.
TEST(SafetensorsWriter, WrittenCheckpointsReadBackBitForBit) {
  for (const auto& [spec, shard] : {std::pair<std::string, int64_t>{"synthetic:tiny-llama3@4", 300'000},
                                    {testing::RepoTestData("tiny/model").string(), 200'000},
                                    {testing::RepoTestData("models/qwen2_features").string(), 100'000}}) {
    const fs::path dir = testing::ScratchDir("st_writer") / "out";
    auto src = Open(spec);
    ASSERT_TRUE(WriteSafetensorsCheckpoint(*src, dir.string(), shard).ok()) << spec;
    auto back = Open(dir.string());
    ASSERT_NE(back, nullptr) << spec;
    ExpectSameCheckpoint(*src, *back);
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) files += e.path().extension() == ".safetensors";
    const bool sharded = fs::exists(dir / "model.safetensors.index.json");
    EXPECT_EQ(sharded, files > 1) << spec;
    EXPECT_GT(files, 1) << spec << ": the shard size splits these";
    if (sharded) {
      nlohmann::json index;
      std::ifstream(dir / "model.safetensors.index.json") >> index;
      EXPECT_EQ(index["weight_map"].size(), src->tensors().size());
      EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), src->TotalBytes());
    }
  }
}

TEST(SafetensorsWriter, OneShardIsModelSafetensors) {
  const fs::path dir = testing::ScratchDir("st_writer_one") / "out";
  auto src = Open("synthetic:tiny");
  ASSERT_TRUE(WriteSafetensorsCheckpoint(*src, dir.string(), int64_t{1} << 30).ok());
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  ExpectSameCheckpoint(*src, *Open(dir.string()));
}

TEST(SafetensorsWriter, ANonEmptyTargetOrABadShardSizeIsRefused) {
  const fs::path dir = testing::ScratchDir("st_writer_bad");
  std::ofstream(dir / "keep.txt") << "someone's file";
  auto src = Open("synthetic:tiny");
  absl::Status st = WriteSafetensorsCheckpoint(*src, dir.string(), 1 << 20);
  EXPECT_THAT(st.message(), HasSubstr("exists and is not an empty folder"));
  EXPECT_TRUE(fs::exists(dir / "keep.txt"));
  EXPECT_FALSE(fs::exists(dir / "config.json"));
  st = WriteSafetensorsCheckpoint(*src, (dir / "keep.txt").string(), 1 << 20);
  EXPECT_THAT(st.message(), HasSubstr("exists and is not an empty folder"));
  st = WriteSafetensorsCheckpoint(*src, (dir / "new").string(), 0);
  EXPECT_THAT(st.message(), HasSubstr("must be positive"));
}

}  // namespace
}  // namespace qsweep
