#include "parallel/topology.h"

#include <gtest/gtest.h>

namespace qsweep {
namespace {

TEST(Topology, ReplicasOfConsecutiveRanks) {
  // 8 ranks on 2 nodes of 4, tp 2: rank 5 is replica 2, second of its group.
  auto t = MakeTopology(5, 8, 2, 4, 4);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->replica, 2);
  EXPECT_EQ(t->replicas, 4);
  EXPECT_EQ(t->tp_rank, 1);
  EXPECT_FALSE(t->leader());
}

TEST(Topology, RejectsGroupsAcrossNodesAndUnevenSplits) {
  auto across = MakeTopology(3, 6, 3, 2, 2);  // nodes {0,1} {2,3} {4,5}; group {3,4,5}
  ASSERT_FALSE(across.ok());
  EXPECT_NE(across.status().message().find("spans nodes"), std::string::npos);
  EXPECT_FALSE(MakeTopology(0, 6, 4, 0, 6).ok());
  EXPECT_FALSE(MakeTopology(0, 2, 0, 0, 2).ok());
}

}  // namespace
}  // namespace qsweep
