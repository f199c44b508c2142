#include "report/dashboard.h"

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

}  // namespace
}  // namespace qsweep
