#include "report/decision.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

void Set(MetricsFileData& m, const std::string& column, std::vector<double> v) { m.summary[column] = std::move(v); }

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

MetricsCandidateData Candidate(const std::string& scheme, const std::string& json = "") {
  MetricsCandidateData c;
  c.scheme = scheme;
  c.scheme_json = json;
  return c;
}

// Three candidates at 4, 4.5 and 8 bits: the budgets are those sizes, each
// taking what fits.
TEST(Decision, EachBudgetNamesTheFewestFlipsAndTheLeastKl) {
  MetricsFileData m;
  m.baseline = "bf16";
  m.schemes = {"bf16", "a", "b", "c"};
  Set(m, "bits_per_weight", {16, 4, 4.5, 8});
  Set(m, "flips_correct_to_incorrect", {0, 0.03, 0.02, 0.003});
  Set(m, "flips_incorrect_to_correct", {0, 0.02, 0.01, 0.002});
  Set(m, "answer_kl_mean", {0, 0.2, 0.3, 0.01});
  Set(m, "delta_accuracy", {0, -0.01, -0.03, 0.0});
  Set(m, "delta_accuracy_lo", {0, -0.02, -0.05, -0.01});
  Set(m, "delta_accuracy_hi", {0, 0.01, -0.01, 0.01});
  const std::vector<std::string> lines = DecisionLines(m);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(Has(lines[0], "At most 4.00 bits per weight: fewest flips a (")) << lines[0];
  EXPECT_TRUE(Has(lines[0], "but 5.0% of answers flip — not equivalent to the baseline")) << lines[0];
  EXPECT_TRUE(Has(lines[0], "also the least KL")) << lines[0];
  EXPECT_TRUE(Has(lines[1], "fewest flips b (Δacc \u22123.0% [\u22125.0%, \u22121.0%], significantly worse")) << lines[1];
  EXPECT_TRUE(Has(lines[1], "least KL a (")) << lines[1];
  EXPECT_TRUE(Has(lines[2], "fewest flips c (Δacc ±0.0% [\u22121.0%, +1.0%], and 0.5% of answers flip — equivalent"))
      << lines[2];
  // A layer-sensitivity run is a measurement: neither a budget nor a choice.
  m.schemes.push_back("L0-q");
  for (auto& [column, values] : m.summary) values.push_back(column == "bits_per_weight" ? 15.0 : 0.0);
  m.candidates = {Candidate("a"), Candidate("b"), Candidate("c"),
                  Candidate("L0-q", "{\"base\":\"bf16\",\"overrides\":[{\"layers\":\"0-0\",\"projections\":[\"q\"],"
                                    "\"scheme\":\"w2a16-g64\"}]}")};
  EXPECT_EQ(DecisionLines(m), lines);
  // With generative tasks, a scheme's line says how many generated answers
  // flipped (both ways, the mean over its tasks): a's 4% and 10%.
  m.candidates[0].generations["g1"] = {.flips_c2i = 0.03, .flips_i2c = 0.01};
  m.candidates[0].generations["g2"] = {.flips_c2i = 0.1, .flips_i2c = 0.0};
  const std::vector<std::string> with = DecisionLines(m);
  EXPECT_TRUE(Has(with[0], "; 7.0% of generated answers flip")) << with[0];
  EXPECT_FALSE(Has(with[2], "generated answers")) << with[2];
}

// A baseline of 16 GB at 16 bits, w2 (4 GB) and w4 (6 GB) uniform, four
// sensitivity cells of w2 whose savings are 1, 3, 1 and 3 GB of the 12: the
// upgrades cost 1/6, 1/2, 1/6 and 1/2 GB. KL per GB: L0-q 1.8, L0-down 1.2,
// L1-q 0.3, L1-down 1.8. A 5-bit budget (5 GB): L0-q, L1-down (4.67 GB),
// not L0-down (5.17), then L1-q (4.83).
TEST(Decision, MixedPrecisionKeepsTheMostKlPerByteWithinTheBudget) {
  MetricsFileData m;
  m.baseline = "bf16";
  m.schemes = {"bf16", "w2a16-g64", "w4a16-g128", "L0-q", "L0-down", "L1-q", "L1-down"};
  Set(m, "bits_per_weight", {16, 4, 6, 15, 13, 15, 13});
  Set(m, "size_gb", {16, 4, 6, 15, 13, 15, 13});
  Set(m, "answer_kl_mean", {0, 2.0, 0.5, 0.3, 0.6, 0.05, 0.9});
  auto cell = [](int layer, const char* p) {
    return "{\"base\":\"bf16\",\"overrides\":[{\"layers\":\"" + std::to_string(layer) + "-" + std::to_string(layer) +
           "\",\"projections\":[\"" + p + "\"],\"scheme\":\"w2a16-g64\"}]}";
  };
  for (size_t i = 1; i < m.schemes.size(); ++i) m.candidates.push_back(Candidate(m.schemes[i]));
  m.candidates[2].scheme_json = cell(0, "q");
  m.candidates[3].scheme_json = cell(0, "down");
  m.candidates[4].scheme_json = cell(1, "q");
  m.candidates[5].scheme_json = cell(1, "down");
  auto plan = PlanMixedPrecision(m, 5.0, "w2a16-g64", "w4a16-g128");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->kept.size(), 3u);
  EXPECT_EQ(plan->kept[0].layer, 0);
  EXPECT_EQ(plan->kept[0].projection, "q");
  EXPECT_EQ(plan->kept[1].projection, "down");
  EXPECT_EQ(plan->kept[2].projection, "q");
  EXPECT_NEAR(plan->bpw, 4.0 + 1.0 / 6 + 0.5 + 1.0 / 6, 1e-12);
  EXPECT_NEAR(plan->kl_kept, 1.25, 1e-12);
  EXPECT_NEAR(plan->kl_low, 1.85, 1e-12);
  EXPECT_EQ(plan->name, "mixed-5bpw");
  EXPECT_EQ(plan->yaml,
            "{name: mixed-5bpw, scheme: w2a16-g64, overrides: [{layers: \"0\", projections: [q], format: w4a16-g128}, "
            "{layers: \"1\", projections: [down, q], format: w4a16-g128}]}");
  EXPECT_TRUE(Has(plan->rule, "3 of 4 layers kept, 4.83 bits per weight, 68% of the layers' summed KL avoided"))
      << plan->rule;
  // A budget below the low format keeps nothing; one above everything keeps all.
  EXPECT_TRUE(PlanMixedPrecision(m, 3.0, "w2a16-g64", "w4a16-g128")->kept.empty());
  EXPECT_EQ(PlanMixedPrecision(m, 16.0, "w2a16-g64", "w4a16-g128")->kept.size(), 4u);
  // Without the uniform runs there are no prices.
  auto missing = PlanMixedPrecision(m, 5.0, "w2a16-g64", "w8a16");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Has(std::string(missing.status().message()), "needs both as uniform runs")) << missing.status();
}

}  // namespace
}  // namespace qsweep
