// The speed caveat of 4-bit activations on Hopper: named by the device and
// the run's scheme JSON, and carried into the decision lines and the
// speed-first recommendation.
#include "report/speed_caveat.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "report/dashboard.h"
#include "report/decision.h"
#include "test_paths.h"

namespace qsweep {
namespace {

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(SpeedCaveat, HopperIsKnownByItsModelNames) {
  for (const char* d : {"NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA H800", "NVIDIA H20", "NVIDIA GH200 480GB",
                        "NVIDIA H100 PCIe", "NVIDIA H100-SXM5-80GB"})
    EXPECT_TRUE(IsHopper(d)) << d;
  for (const char* d : {"", "cpu", "NVIDIA A100-SXM4-80GB", "NVIDIA B200", "NVIDIA GeForce RTX 4090", "NVIDIA L40S",
                        "NVIDIA H2000"})
    EXPECT_FALSE(IsHopper(d)) << d;
}

// bf16, w4a4 and w8a8, every run measured on `device`.
MetricsFileData Sweep(const std::string& device) {
  MetricsFileData m;
  m.baseline = "bf16";
  m.schemes = {"bf16", "w4a4", "w8a8"};
  m.devices = {device, device, device};
  m.summary["bits_per_weight"] = {16, 4.25, 8.1};
  m.summary["accuracy"] = {0.6, 0.6, 0.6};
  m.summary["delta_accuracy"] = {0, 0, 0};
  m.summary["delta_accuracy_lo"] = {0, -0.01, -0.01};
  m.summary["delta_accuracy_hi"] = {0, 0.01, 0.01};
  m.summary["flips_correct_to_incorrect"] = {0, 0.002, 0.003};
  m.summary["flips_incorrect_to_correct"] = {0, 0.002, 0.003};
  m.summary["mcnemar_p"] = {1, 1, 1};
  m.summary["answer_kl_mean"] = {0, 0.01, 0.005};
  m.summary["size_gb"] = {16, 4.2, 8.1};
  m.summary["samples_per_s"] = {10, 30, 20};
  m.summary["tokens_per_s"] = {1000, 3000, 2000};
  m.summary["weight_gib"] = {15, 4, 8};
  for (const auto& [scheme, act] : {std::pair{"w4a4", "int4"}, std::pair{"w8a8", "int8"}}) {
    MetricsCandidateData c;
    c.scheme = scheme;
    c.scheme_json = std::string(R"({"name": ")") + scheme + R"(", "activations": ")" + act + R"("})";
    m.candidates.push_back(c);
  }
  return m;
}

TEST(SpeedCaveat, FourBitActivationsOnHopperAreNotNative) {
  const MetricsFileData h200 = Sweep("NVIDIA H200");
  EXPECT_TRUE(SpeedCaveat(h200, 0).empty());  // the baseline: no activation codes
  EXPECT_TRUE(Has(SpeedCaveat(h200, 1), "not native on sm_90"));
  EXPECT_TRUE(SpeedCaveat(h200, 2).empty());  // int8 codes run natively
  const MetricsFileData a100 = Sweep("NVIDIA A100-SXM4-80GB");
  EXPECT_TRUE(SpeedCaveat(a100, 1).empty());
  MetricsFileData old = h200;
  old.devices.clear();  // a metrics file written before devices were recorded
  EXPECT_TRUE(SpeedCaveat(old, 1).empty());
}

TEST(SpeedCaveat, TheDecisionAndTheSpeedFirstLineSayIt) {
  auto joined = [](const std::vector<std::string>& lines) {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
  };
  const MetricsFileData h200 = Sweep("NVIDIA H200");
  const std::string decision = joined(DecisionLines(h200)), recommend = joined(Recommend(h200));
  EXPECT_TRUE(Has(decision, "samples/s (not native on sm_90)")) << decision;
  EXPECT_TRUE(Has(recommend, "Speed first: w4a4")) << recommend;
  EXPECT_TRUE(Has(recommend, "Its speed is not native on sm_90")) << recommend;
  const MetricsFileData cpu = Sweep("cpu");
  EXPECT_FALSE(Has(joined(DecisionLines(cpu)), "sm_90"));
  EXPECT_FALSE(Has(joined(Recommend(cpu)), "sm_90"));
}

// The speed chart's data carries the note, in a column of its own only
// where some scheme has one; the memory chart never does.
TEST(SpeedCaveat, TheSpeedChartCarriesTheNote) {
  const auto dir = testing::ScratchDir("speed_caveat");
  const auto assets = dir / "assets";  // empty stand-ins for the inlined libraries
  for (const char* f : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js"}) {
    std::filesystem::create_directories((assets / f).parent_path());
    std::ofstream(assets / f) << "";
  }
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  for (const char* device : {"NVIDIA H200", "cpu"}) {
    const auto out = dir / (std::string(device) == "cpu" ? "cpu" : "h200");
    ASSERT_TRUE(WriteDashboard(Sweep(device), out.string(), {.assets_dir = assets.string()}).ok()) << device;
    const std::string speed = read(out / "data" / "speed_vs_accuracy.csv"),
                      memory = read(out / "data" / "memory_vs_accuracy.csv");
    ASSERT_FALSE(speed.empty()) << device;
    EXPECT_EQ(Has(speed, "not native on sm_90"), std::string(device) != "cpu") << speed;
    EXPECT_EQ(Has(speed.substr(0, speed.find('\n')), "note"), std::string(device) != "cpu") << speed;
    EXPECT_FALSE(Has(memory, "note")) << memory;
  }
}

}  // namespace
}  // namespace qsweep
