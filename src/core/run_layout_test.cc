#include "core/run_layout.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(RunLayout, EveryNameParsesBackToItsValue) {
  for (const auto& n : kBackendNames) EXPECT_EQ(Parse<BackendKind>(Name(n.value)), n.value);
  for (const auto& n : kReductionNames) EXPECT_EQ(Parse<Reduction>(Name(n.value)), n.value);
  EXPECT_EQ(Name(BackendKind::kCuda), "cuda");
  EXPECT_EQ(Name(Reduction::kTpInvariant), "tp_invariant");
}

TEST(RunLayout, OtherTextIsNoValue) {
  EXPECT_EQ(Parse<BackendKind>("CPU"), std::nullopt);
  EXPECT_EQ(Parse<BackendKind>(""), std::nullopt);
  EXPECT_EQ(Parse<Reduction>("quick"), std::nullopt);
}

TEST(RunLayout, NameListsEveryName) {
  EXPECT_EQ(NameList<BackendKind>(), "cpu or cuda");
  EXPECT_EQ(NameList<Reduction>(), "tp_invariant or fast");
}

}  // namespace
}  // namespace qsweep
