#include "sweep/sweep_config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "quant/scheme.h"

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
  {
    std::string empty(kGood);
    const size_t at = empty.find("output: out/demo");
    empty.replace(at, 16, "output: ''");
    ExpectError(empty, "output: empty");
  }
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
  ExpectError(with("8"), "batch_tokens in [16, 2^24] (or auto)");
  ExpectError(with("0"), "batch_tokens in [16, 2^24] (or auto)");
  ExpectError(with("lots"), "batch_tokens");
}

TEST(SweepConfig, ReductionIsTpInvariantUnlessAskedToBeFast) {
  const std::string base = kGood;
  auto d = ParseSweepConfig(base, "c.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->reduction, Reduction::kTpInvariant);
  auto with = [&](const std::string& v) {
    return std::string(base).replace(base.find("{tp: 2}"), 7, "{tp: 2, reduction: " + v + "}");
  };
  auto f = ParseSweepConfig(with("fast"), "c.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->reduction, Reduction::kFast);
  ExpectError(with("quick"), "parallel.reduction: 'quick' (tp_invariant or fast)");
}

TEST(SweepConfig, EntriesMayScoreAtTheirOwnBatchSizeOrReduction) {
  // The noise floor: the baseline's scheme again, with the other reduction.
  std::string yaml = kGood;
  yaml.replace(yaml.find("[w8a16, w4a16-g128]"), 19,
               "[w8a16, {name: bf16-fast, scheme: bf16, reduction: fast, batch_tokens: 256}]");
  auto c = ParseSweepConfig(yaml, "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ReductionOf("bf16-fast"), Reduction::kFast);
  EXPECT_EQ(c->BatchTokensOf("bf16-fast"), 256);
  EXPECT_EQ(c->ReductionOf("w8a16"), Reduction::kTpInvariant);
  EXPECT_EQ(c->BatchTokensOf("w8a16"), c->batch_tokens);
  EXPECT_TRUE(c->exact_token_stats);  // on by default
  std::string bad = yaml;
  ExpectError(bad.replace(bad.find("batch_tokens: 256"), 17, "batch_tokens: 3"), "schemes.bf16-fast.batch_tokens");
  bad = yaml;
  ExpectError(bad.replace(bad.find("reduction: fast"), 15, "reduction: slow"), "'slow' (tp_invariant or fast)");
  std::string off = kGood;
  off.replace(off.find("{topk: 8}"), 9, "{topk: 8, exact_token_stats: false}");
  auto o = ParseSweepConfig(off, "c.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->exact_token_stats);
}

TEST(SweepConfig, ScoringNumbersHaveUpperBounds) {
  // Each sizes an allocation before anything else checks it.
  for (const char* bad : {"{topk: 65}", "{topk: 1000000000}", "{batch_tokens: 4611686018427387904}",
                          "{samples_per_unit: 1000000000000}", "{windows_per_unit: 99999999999}"}) {
    std::string yaml = kGood;
    yaml.replace(yaml.find("{topk: 8}"), 9, bad);
    ExpectError(yaml, "topk in [1, 64]");
  }
  std::string ok = kGood;
  ok.replace(ok.find("{topk: 8}"), 9, "{topk: 64, batch_tokens: 16777216}");
  EXPECT_TRUE(ParseSweepConfig(ok, "c.yaml").ok());
}

TEST(SweepConfig, BackendIsCpuUnlessNamed) {
  const std::string base = kGood;
  auto d = ParseSweepConfig(base, "c.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->backend, BackendKind::kCpu);
  auto with = [&](const std::string& v) {
    return std::string(base).replace(base.find("{tp: 2}"), 7, "{tp: 2, backend: " + v + "}");
  };
  auto g = ParseSweepConfig(with("cuda"), "c.yaml");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->backend, BackendKind::kCuda);
  ExpectError(with("tpu"), "parallel.backend: 'tpu' (cpu or cuda)");
  ExpectError(with("[cpu]"), "parallel.backend: wrong type");
}

TEST(SweepConfig, NamedSchemesCarryOverrides) {
  const std::string base = kGood;
  const size_t at = base.find("schemes: [");
  const size_t end = base.find('\n', at);
  auto with = [&](const std::string& schemes) { return std::string(base).replace(at, end - at, "schemes: " + schemes); };
  auto c = ParseSweepConfig(
      with("[w8a16, {name: attn-w4, scheme: bf16, overrides: [{projections: [q, k, v, o], format: w4a16-g128}]}]"),
      "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->AllSchemes(), (std::vector<std::string>{"bf16", "w8a16", "attn-w4"}));
  EXPECT_EQ(c->SchemeText("w8a16"), "w8a16");
  auto spec = ResolveScheme(c->SchemeText("attn-w4"));
  ASSERT_TRUE(spec.ok()) << spec.status() << "\n" << c->SchemeText("attn-w4");
  EXPECT_EQ(FormatFor(*spec, "model.layers.3.self_attn.k_proj.weight").bits, 4);
  EXPECT_FALSE(FormatFor(*spec, "model.layers.3.mlp.up_proj.weight").quantized());

  ExpectError(with("[{scheme: bf16}]"), "schemes.name: missing");
  ExpectError(with("[{name: a/b, scheme: bf16}]"), "use letters, digits");
  ExpectError(with("[{name: x, overrides: []}]"), "schemes.x.scheme: missing");
  ExpectError(with("[{name: x, scheme: bf16, overrides: [{format: w9a16}]}]"), "unknown scheme 'w9a16'");
  ExpectError(with("[{name: x, scheme: bf16, extra: 1}]"), "schemes.extra: unknown key");
  ExpectError(with("[{name: bf16, scheme: w8a16}]"), "appears twice");
  ExpectError(with("w8a16"), "schemes: expected a list");
  // Every scheme name is resolved when the config is read (prepare, plan and
  // submit fail on a typo, with its line).
  ExpectError(with("[w8a16, w4a61-g128]"), "unknown scheme 'w4a61-g128'");
}

TEST(SweepConfig, CalibrationDataForCalibratedSchemes) {
  const std::string base = kGood;
  auto c = ParseSweepConfig(base + "calibration: {path: calib/c4.txt, sequences: 16, length: 256, seed: 3}\n",
                            "/repo/configs/demo.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->calibration.has_value());
  EXPECT_EQ(c->calibration->path, "/repo/configs/calib/c4.txt");
  EXPECT_EQ(c->calibration->sequences, 16);
  EXPECT_EQ(c->calibration->length, 256);
  EXPECT_EQ(c->calibration->seed, 3);
  auto defaults = ParseSweepConfig(base + "calibration: {path: /abs/c.txt}\n", "c.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->calibration->sequences, 128);
  EXPECT_EQ(defaults->calibration->length, 2048);
  EXPECT_EQ(defaults->calibration->seed, 0);
  EXPECT_FALSE(ParseSweepConfig(base, "c.yaml")->calibration.has_value());
  ExpectError(base + "calibration: corpus.txt\n", "calibration: expected a mapping");
  ExpectError(base + "calibration: {sequences: 4}\n", "calibration.path: missing");
  ExpectError(base + "calibration: {path: c.txt, samples: 4}\n", "calibration.samples: unknown key");
  ExpectError(base + "calibration: {path: c.txt, length: 1}\n", "calibration: need sequences >= 1 and length >= 2");
  // A gptq scheme, plain or named, needs the data.
  std::string gptq = base;
  gptq.replace(gptq.find("[w8a16, w4a16-g128]"), 19, "[w8a16, w4a16-g128-gptq-act]");
  ExpectError(gptq, "calibration: missing: scheme 'w4a16-g128-gptq-act' is calibrated (gptq-act)");
  EXPECT_TRUE(ParseSweepConfig(gptq + "calibration: {path: c.txt}\n", "c.yaml").ok());
  std::string named = base;
  named.replace(named.find("[w8a16, w4a16-g128]"), 19,
                "[w8a16, {name: mlp-gptq, scheme: w4a16-g128-gptq, overrides: [{projections: [q], format: keep}]}]");
  ExpectError(named, "scheme 'mlp-gptq' is calibrated");
  std::string sq = base;
  sq.replace(sq.find("[w8a16, w4a16-g128]"), 19, "[w8a8-sq0.85]");
  ExpectError(sq, "scheme 'w8a8-sq0.85' is calibrated (sq0.85)");
  std::string awq = base;
  awq.replace(awq.find("[w8a16, w4a16-g128]"), 19, "[w4a16-g128-awq]");
  ExpectError(awq, "scheme 'w4a16-g128-awq' is calibrated (awq)");
}

TEST(SweepConfig, SensitivityExpandsIntoOneLayerEntries) {
  const std::string base = kGood;
  auto c = ParseSweepConfig(base + "sensitivity: {format: w2a16-g64, layers: 1-2, projections: [q, down]}\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->AllSchemes(), (std::vector<std::string>{"bf16", "w8a16", "w4a16-g128", "L1-q", "L1-down", "L2-q",
                                                       "L2-down"}));
  auto spec = ResolveScheme(c->SchemeText("L2-down"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FormatFor(*spec, "model.layers.2.mlp.down_proj.weight").bits, 2);
  EXPECT_FALSE(FormatFor(*spec, "model.layers.1.mlp.down_proj.weight").quantized());
  EXPECT_FALSE(FormatFor(*spec, "model.layers.2.mlp.up_proj.weight").quantized());
  auto all = ParseSweepConfig(base + "sensitivity: {format: nf4-g64, layers: 0}\n", "c.yaml");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->AllSchemes().size(), 3u + 7u);  // every projection type of layer 0

  ExpectError(base + "sensitivity: {layers: 0}\n", "sensitivity.format: missing");
  ExpectError(base + "sensitivity: {format: w2a16-g64, layers: 3-1}\n", "expected A-B or A");
  ExpectError(base + "sensitivity: {format: w9a16, layers: 0}\n", "unknown scheme 'w9a16'");
  ExpectError(base + "sensitivity: {format: w2a16-g64, layers: 0, projections: [mlp]}\n", "mlp");
  // A crafted projection can name neither a file nor YAML: refused as it is.
  ExpectError(base + "sensitivity: {format: w2a16-g64, layers: 0, projections: ['q/../../../x']}\n",
              "sensitivity.projections: 'q/../../../x' is not a projection type");
  ExpectError(base + "sensitivity: {format: w2a16-g64, layers: 0, projections: ['q], format: keep}, {layers: 0']}\n",
              "is not a projection type");
  ExpectError(std::string(kGood).replace(std::string(kGood).find("baseline: bf16"), 14, "baseline: w8a8") +
                  "sensitivity: {format: w2a16-g64, layers: 0}\n",
              "needs a dense baseline");
}

// recommend needs both uniform formats among the schemes and the
// sensitivity cells of its format; the chosen entry joins the schemes once
// qsweep run wrote it beside the runs.
// A scheme entry whose base is a map: a clear error (a fuzz finding).
TEST(SweepConfig, ValuesOfTheWrongYamlTypeAreErrors) {
  std::string bad = kGood;
  bad.replace(bad.find("[w8a16, w4a16-g128]"), 19, "[{name: x, scheme: {a: 1}}]");
  auto c = ParseSweepConfig(bad, "c.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.yaml"), std::string::npos) << c.status();
}

TEST(SweepConfig, RecommendNeedsItsPricesAndJoinsOnceChosen) {
  std::string base = kGood;
  base.replace(base.find("[w8a16, w4a16-g128]"), 19, "[w4a16-g128, w2a16-g64]");
  const std::string out = ::testing::TempDir() + "/recommend_test";
  std::filesystem::remove_all(out);
  base.replace(base.find("output: out/demo"), 16, "output: " + out);
  const std::string sens = "sensitivity: {format: w2a16-g64, layers: 0-1}\n";
  auto c = ParseSweepConfig(base + sens + "recommend: {budget_bpw: 3.5, format: w2a16-g64, keep: w4a16-g128}\n",
                            "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->recommend.has_value());
  EXPECT_EQ(c->recommend->budget_bpw, 3.5);
  const size_t before = c->schemes.size();
  ASSERT_TRUE(AddRecommendedEntry(*c).ok());
  EXPECT_EQ(*AddRecommendedEntry(*c), "") << "nothing chosen yet";
  EXPECT_EQ(c->schemes.size(), before) << "nothing chosen yet";
  std::filesystem::create_directories(out);
  std::ofstream(c->RecommendedPath())
      << "{name: mixed-3.5bpw, scheme: w2a16-g64, overrides: [{layers: \"1\", projections: [down], format: w4a16-g128}]}\n";
  EXPECT_EQ(*AddRecommendedEntry(*c), "mixed-3.5bpw");
  ASSERT_EQ(c->schemes.size(), before + 1);
  EXPECT_EQ(c->schemes.back(), "mixed-3.5bpw");
  auto spec = ResolveScheme(c->SchemeText("mixed-3.5bpw"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FormatFor(*spec, "model.layers.1.mlp.down_proj.weight").bits, 4);
  EXPECT_EQ(FormatFor(*spec, "model.layers.0.mlp.down_proj.weight").bits, 2);
  ASSERT_TRUE(AddRecommendedEntry(*c).ok());
  EXPECT_EQ(c->schemes.size(), before + 1) << "added once";
  std::ofstream(c->RecommendedPath()) << "{name: ../../evil, scheme: bf16}\n";
  const absl::Status bad = AddRecommendedEntry(*c).status();
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(c->RecommendedPath() + ": not a recommended entry"), std::string::npos) << bad;

  ExpectError(base + sens + "recommend: {budget_bpw: 0, format: w2a16-g64, keep: w4a16-g128}\n",
              "recommend.budget_bpw: must be in (0, 32]");
  ExpectError(base + sens + "recommend: {budget_bpw: 3, format: w2a16-g64, keep: w8a16}\n",
              "'w8a16' must be one of the schemes");
  ExpectError(base + "recommend: {budget_bpw: 3, format: w2a16-g64, keep: w4a16-g128}\n",
              "needs the sensitivity key with format w2a16-g64");
  ExpectError(base + sens + "recommend: {budget_bpw: 3, format: w2a16-g64, keep: w4a16-g128, extra: 1}\n",
              "extra");
}

}  // namespace
}  // namespace qsweep
