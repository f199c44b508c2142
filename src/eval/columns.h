// One per-row array of a record, as a record's field list yields it. The
// per-row records of a run (ChoiceRows, TokenRows) each list their arrays
// once, beside their definition, in a
//
//   template <typename F, typename... Rows> void ForEachColumn(F&& f, Rows&... r);
//
// that calls f once per array with that array of every record given (so a
// codec, the placement of a unit's rows into a whole run's, the run file's
// writer and reader, and tests walk the same list, and a new array is one
// line there), and a ForEachSize that does the same for the sizes the arrays
// are shaped by.
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

namespace qsweep {

// How files store a column (io/run_file.cc): both off for a plain dataset.
enum ColumnStorage : unsigned {
  kPlain = 0,
  kLarge = 1,     // chunked along rows and compressed
  kOptional = 2,  // absent when its width is 0 (written only when asked for)
  kPresence = 4,  // with kOptional: a 1-D array whose width field is 1 when present, 0 when absent
  kBf16 = 8,      // float values exact in bfloat16, stored as bfloat16
};

// `values` is [*rows, width()] row-major. V is std::vector<T> and S int64_t,
// each const when the record is. uint16_t values are IEEE float16 bits and
// are stored as float16.
template <typename V, typename S>
struct Column {
  using Value = typename std::remove_const_t<V>::value_type;
  Column(const char* name, V& values, S& rows, S* width = nullptr, Value pad = Value{},
         unsigned storage = kPlain)
      : name(name), values(values), rows(rows), width_field(width), pad(pad), storage(storage) {}

  const char* name;  // the run file's dataset name (docs/run_file.md)
  V& values;
  S& rows;           // the record's row count
  S* width_field;    // the record's width of a 2-D array; null: one value per row
  Value pad;         // what a row holds before its unit's values are placed
  unsigned storage;  // ColumnStorage bits

  bool two_d() const { return width_field != nullptr; }
  // Whether files hold it as [rows, width] (else [rows]).
  bool stored_2d() const { return two_d() && !(storage & kPresence); }
  int64_t width() const { return width_field ? *width_field : 1; }
  // Whether the array holds rows × width values.
  bool whole() const { return static_cast<int64_t>(values.size()) == rows * width(); }
};

}  // namespace qsweep
