#include "mpi/agree_on_root.h"

#include <climits>
#include <cstdint>
#include <string>

#include "core/status_macros.h"

namespace qsweep {

absl::Status AgreeOnRoot(const absl::Status& root, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  // [code, message length] then the message.
  int64_t head[2] = {static_cast<int64_t>(root.code()), static_cast<int64_t>(root.message().size())};
  MPI_Bcast(head, 2, MPI_INT64_T, 0, comm);
  QSWEEP_CHECK(head[1] < INT_MAX);
  std::string message = rank == 0 ? std::string(root.message()) : std::string(head[1], '\0');
  if (head[1] > 0) MPI_Bcast(message.data(), static_cast<int>(head[1]), MPI_CHAR, 0, comm);
  return absl::Status(static_cast<absl::StatusCode>(head[0]), message);
}

bool AgreeOnRoot(bool root, MPI_Comm comm) {
  int value = root;
  MPI_Bcast(&value, 1, MPI_INT, 0, comm);
  return value != 0;
}

}  // namespace qsweep
