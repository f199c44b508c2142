#include "dist/sweep_config.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

constexpr char kGood[] = R"(name: demo
model: ../tests/data/tiny/model
parallel: {tp: 2}
baseline: bf16
schemes: [w8a16, w4a16-g128]
tasks:
  - {name: add, path: tasks/add.jsonl}
corpora:
  - {name: text, path: /abs/heldout.txt, window: 64, stride: 32}
output: out/demo
scoring: {topk: 8}
)";

TEST(SweepConfig, ParsesAndResolvesPathsAgainstTheConfigFolder) {
  auto c = ParseSweepConfig(kGood, "/repo/configs/demo.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model, "/repo/tests/data/tiny/model");
  EXPECT_EQ(c->tokenizer, "/repo/tests/data/tiny/model");
  EXPECT_EQ(c->tasks[0].path, "/repo/configs/tasks/add.jsonl");
  EXPECT_EQ(c->corpora[0].path, "/abs/heldout.txt");
  EXPECT_EQ(c->tp, 2);
  EXPECT_EQ(c->topk, 8);
  EXPECT_EQ(c->AllSchemes(), (std::vector<std::string>{"bf16", "w8a16", "w4a16-g128"}));
  EXPECT_EQ(c->RunPath("w8a16"), "/repo/configs/out/demo/runs/w8a16.h5");
}

void ExpectError(const std::string& yaml, const std::string& fragment) {
  auto c = ParseSweepConfig(yaml, "c.yaml");
  ASSERT_FALSE(c.ok()) << yaml;
  EXPECT_NE(c.status().message().find(fragment), std::string::npos) << c.status();
}

TEST(SweepConfig, ClearErrors) {
  std::string base = kGood;
  ExpectError(base + "shemes: [x]\n", "c.yaml:12: shemes: unknown key");
  ExpectError("name: x\nmodel: m\noutput: o\ntasks: [{name: a, path: p}]\n", "schemes: missing");
  ExpectError(std::string(kGood).replace(std::string(kGood).find("tp: 2"), 5, "tp: two"), "parallel.tp: wrong type");
  ExpectError(std::string(kGood).replace(std::string(kGood).find("w8a16"), 5, "bf16"), "appears twice");
  ExpectError(std::string(kGood).replace(std::string(kGood).find("stride: 32"), 10, "stride: 64"), "stride < window");
  ExpectError("name: [unclosed\n", "invalid YAML");
}

TEST(SweepConfig, BatchTokensIsANumberOrAuto) {
  const std::string base = kGood;
  const size_t at = base.find("scoring: {topk: 8}");
  auto with = [&](const std::string& v) {
    return std::string(base).replace(at, 18, "scoring: {topk: 8, batch_tokens: " + v + "}");
  };
  auto a = ParseSweepConfig(with("auto"), "c.yaml");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->batch_tokens, 0);
  auto n = ParseSweepConfig(with("512"), "c.yaml");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->batch_tokens, 512);
  ExpectError(with("8"), "batch_tokens >= 16 (or auto)");
  ExpectError(with("0"), "batch_tokens >= 16 (or auto)");
  ExpectError(with("lots"), "batch_tokens");
}

}  // namespace
}  // namespace qsweep
