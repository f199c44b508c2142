#include "model/describe.h"

#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/synthetic_checkpoint.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

TEST(Describe, WithThousands) {
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(-1234567), "-1,234,567");
  EXPECT_EQ(WithThousands(70553706496), "70,553,706,496");
}

TEST(Describe, Llama3_70bIsFastAndComplete) {
  const auto start = std::chrono::steady_clock::now();
  auto ck = OpenCheckpoint("synthetic:llama3-70b");
  ASSERT_TRUE(ck.ok());
  const std::string text = DescribeCheckpoint(**ck);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 0.5);
  EXPECT_THAT(text, HasSubstr("checkpoint:    synthetic:llama3-70b\n"));
  EXPECT_THAT(text, HasSubstr("architecture:  LlamaForCausalLM\n"));
  EXPECT_THAT(text, HasSubstr("vocab 128256, hidden 8192, intermediate 28672, layers 80\n"));
  EXPECT_THAT(text, HasSubstr("heads 64, kv heads 8, head_dim 128, bias none\n"));
  EXPECT_THAT(text, HasSubstr("rope:          llama3, theta 500000, factor 8, low_freq_factor 1, "
                              "high_freq_factor 4, original_max_position_embeddings 8192\n"));
  EXPECT_THAT(text, HasSubstr("embeddings:    untied\n"));
  EXPECT_THAT(text, HasSubstr("parameters:    70.55 B (70,553,706,496)\n"));
  EXPECT_THAT(text, HasSubstr("tensors:       723 (BF16 x723)\n"));
  EXPECT_THAT(text, HasSubstr("size:          141.11 GB (141,107,412,992 bytes)\n"));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("content id:    ", (*ck)->content_id())));
}

TEST(Describe, QwenShowsBiasAndTies) {
  auto ck = OpenCheckpoint("synthetic:qwen2-0.5b-like");
  ASSERT_TRUE(ck.ok());
  const std::string text = DescribeCheckpoint(**ck);
  EXPECT_THAT(text, HasSubstr("bias q/k/v"));
  EXPECT_THAT(text, HasSubstr("tied (lm_head = embed_tokens)"));
  EXPECT_THAT(text, HasSubstr("rope:          default, theta 1e+06\n"));
  EXPECT_THAT(text, HasSubstr("494.03 M (494,032,768)"));
}

TEST(Describe, SmallUnits) {
  auto ck = OpenCheckpoint("synthetic:tiny");
  ASSERT_TRUE(ck.ok());
  const std::string text = DescribeCheckpoint(**ck);
  // embed 32768 + head 32768 + norm 64 + 2 layers x (norms 128, q 4096, k 2048, v 2048,
  // o 4096, mlp 3 x 11264)
  EXPECT_THAT(text, HasSubstr("parameters:    158.02 K (158,016)\n"));
  EXPECT_THAT(text, HasSubstr("size:          316.03 KB (316,032 bytes)\n"));
}

}  // namespace
}  // namespace qsweep
