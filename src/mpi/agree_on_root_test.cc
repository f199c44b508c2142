// Run under mpirun -n 2 (ctest Mpi.AgreeOnRootOverTwoRanks): what rank 0
// decides is what every rank gets.
#include "mpi/agree_on_root.h"

#include <string>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

int Rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

TEST(AgreeOnRoot, EveryRankFailsWithRankZerosText) {
  ASSERT_GE([] {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
  }(), 2) << "run under mpirun -n 2";
  const absl::Status mine = Rank() == 0 ? absl::NotFoundError("requests.h5: cannot open the sweep config")
                                        : absl::InternalError("rank " + std::to_string(Rank()) + "'s own view");
  const absl::Status agreed = AgreeOnRoot(mine, MPI_COMM_WORLD);
  EXPECT_EQ(agreed.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agreed.message(), "requests.h5: cannot open the sweep config");
}

TEST(AgreeOnRoot, RankZerosSuccessIsEveryRanks) {
  const absl::Status mine = Rank() == 0 ? absl::OkStatus() : absl::InternalError("not read");
  EXPECT_TRUE(AgreeOnRoot(mine, MPI_COMM_WORLD).ok());
}

TEST(AgreeOnRoot, ALongMessageArrivesWhole) {
  const std::string text(100000, 'x');
  const absl::Status agreed =
      AgreeOnRoot(Rank() == 0 ? absl::DataLossError(text + "!") : absl::OkStatus(), MPI_COMM_WORLD);
  EXPECT_EQ(agreed.message(), text + "!");
}

TEST(AgreeOnRoot, AFlagIsRankZeros) {
  EXPECT_TRUE(AgreeOnRoot(Rank() == 0, MPI_COMM_WORLD));
  EXPECT_FALSE(AgreeOnRoot(Rank() != 0, MPI_COMM_WORLD));
}

}  // namespace
}  // namespace qsweep
