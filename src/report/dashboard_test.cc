#include "report/dashboard.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace qsweep {
namespace {

TEST(Dashboard, EmbeddedJsonCannotCloseItsScript) {
  const nlohmann::json j = {{"scheme", "x</script><script>alert(1)</script>"}, {"n", 1}};
  const std::string safe = JsonForScript(j.dump());
  EXPECT_EQ(safe.find("</"), std::string::npos) << safe;
  EXPECT_EQ(nlohmann::json::parse(safe), j);  // the same data to JSON
  EXPECT_EQ(JsonForScript("<</</"), "<<\\/<\\/");
}

// Three schemes beside the baseline: the fastest loses 3 points, so speed
// first is the faster of the two within 1 point; without every run's
// throughput there is no speed claim.
TEST(Dashboard, SpeedFirstIsTheFastestWithinAPointOfTheBaseline) {
  MetricsFileData m;
  m.baseline = "bf16";
  m.schemes = {"bf16", "w8a16", "w4a16-g128", "w2a16-g64"};
  m.summary["accuracy"] = {0.60, 0.60, 0.595, 0.57};
  m.summary["delta_accuracy"] = {0, 0, -0.005, -0.03};
  m.summary["tokens_per_s"] = {1000, 1200, 1500, 2000};
  for (const char* c : {"bits_per_weight", "size_gb", "delta_accuracy_lo", "delta_accuracy_hi", "mcnemar_p",
                        "flips_correct_to_incorrect", "flips_incorrect_to_correct", "answer_kl_mean"})
    m.summary[c] = std::vector<double>(4, 0.1);
  std::vector<std::string> lines = Recommend(m);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].rfind("Speed first: w4a16-g128", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("1500 tokens/s, 1.50x the baseline's 1000"), std::string::npos) << lines[2];
  m.summary["tokens_per_s"][2] = 0;  // one run did not measure it
  lines = Recommend(m);
  EXPECT_NE(lines[2].find("not measured by every run"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace qsweep
