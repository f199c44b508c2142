#include "report/checkpoint_source.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(CheckpointSource, OwnSchemesAndCheckpointsMadeElsewhere) {
  EXPECT_EQ(SourceOf(R"({"name":"w4a16-g128","base":"w4a16-g128"})").kind, "qsweep");
  EXPECT_EQ(SourceOf("").kind, "qsweep");
  EXPECT_EQ(SourceOf("not json {").kind, "qsweep");
  const CheckpointSource g = SourceOf(
      R"({"name":"q8","checkpoint":{"file_format":"gguf","path":"/m/x.gguf","formats":{"F32":9,"Q8_0":30}}})");
  EXPECT_EQ(g.kind, "gguf");
  EXPECT_EQ(g.formats, "F32 ×9, Q8_0 ×30");
  EXPECT_EQ(g.path, "/m/x.gguf");
  const CheckpointSource q = SourceOf(
      R"({"checkpoint":{"file_format":"safetensors","formats":{"BF16":11,"gptq-int4-g128":28}}})");
  EXPECT_EQ(q.kind, "gptq");
  EXPECT_EQ(SourceOf(R"({"checkpoint":{"file_format":"safetensors","formats":{"awq-int4-g128":28}}})").kind, "awq");
}

}  // namespace
}  // namespace qsweep
