// Early-return helpers for absl::Status / absl::StatusOr, as Abseil uses
// internally but does not export.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QSWEEP_CONCAT_INNER(a, b) a##b
#define QSWEEP_CONCAT(a, b) QSWEEP_CONCAT_INNER(a, b)

#define QSWEEP_RETURN_IF_ERROR(expr)               \
  do {                                             \
    ::absl::Status _qsweep_status = (expr);        \
    if (!_qsweep_status.ok()) return _qsweep_status; \
  } while (0)

#define QSWEEP_ASSIGN_OR_RETURN(lhs, expr) \
  QSWEEP_ASSIGN_OR_RETURN_IMPL(QSWEEP_CONCAT(_qsweep_or_, __LINE__), lhs, expr)

#define QSWEEP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

// Programmer errors only (broken invariants), never user input.
#define QSWEEP_CHECK(cond)                                                         \
  do {                                                                             \
    if (!(cond)) ::qsweep::internal::CheckFailed(__FILE__, __LINE__, #cond);       \
  } while (0)

namespace qsweep::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace qsweep::internal
