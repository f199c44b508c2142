#include "core/progress.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(Progress, LineShowsDoneTotalRateEta) {
  EXPECT_EQ(Progress::Line("score", 10, 40, "samples", 5.0),
            "score: 10/40 (25.0%) 2.0 samples/s ETA 15s");
  EXPECT_EQ(Progress::Line("score", 40, 40, "samples", 20.0),
            "score: 40/40 (100.0%) 2.0 samples/s done in 20s");
  EXPECT_EQ(Progress::Line("w", 1, 1000, "units", 10.0),
            "w: 1/1000 (0.1%) 0.1 units/s ETA 2h46m");
  EXPECT_EQ(Progress::Line("w", 0, 5, "units", 0.0), "w: 0/5 (0.0%) 0.0 units/s ?");
}

TEST(Progress, CountsAdvances) {
  Progress p("x", 3, "u", /*enabled=*/false);
  p.Advance();
  p.Advance(2);
  EXPECT_EQ(p.done(), 3);
}

}  // namespace
}  // namespace qsweep
