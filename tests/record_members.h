// Checks that a record's field list names each of its members once: the
// number of members an aggregate has (how many initializers it takes) against
// the distinct members its list yields.
#pragma once
#include <cstddef>

namespace qsweep::testing {

// Converts to any member type, to count initializers.
struct AnyMember {
  template <typename T>
  operator T() const;
};

template <typename T, typename... Seen>
constexpr size_t CountMembers() {
  if constexpr (requires { T{Seen{}..., AnyMember{}}; })
    return CountMembers<T, Seen..., AnyMember>();
  else
    return sizeof...(Seen);
}

}  // namespace qsweep::testing
