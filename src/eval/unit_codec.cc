#include "eval/unit_codec.h"

#include "core/byte_buffer.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

// A record as its sizes, then its arrays (each length-prefixed).
template <typename Rows>
void Put(ByteWriter& w, const Rows& rows) {
  ForEachSize([&](const char*, const auto& size) { w.Put(size); }, rows);
  ForEachColumn([&](const auto& column) { w.PutVector(column.values); }, rows);
}

template <typename Rows>
Rows Get(ByteReader& r) {
  Rows rows;
  ForEachSize([&](const char*, auto& size) { size = r.Get<std::remove_reference_t<decltype(size)>>(); }, rows);
  ForEachColumn(
      [&](const auto& column) {
        column.values = r.GetVector<typename std::remove_cvref_t<decltype(column)>::Value>();
      },
      rows);
  return rows;
}

}  // namespace

std::vector<uint8_t> EncodeUnitResult(const UnitResult& result) {
  ByteWriter w;
  w.Put<uint8_t>(static_cast<uint8_t>(result.index()));  // 0 choices, 1 tokens, 2 generations
  std::visit([&](const auto& rows) { Put(w, rows); }, result);
  return std::move(w.bytes());
}

UnitResult DecodeUnitResult(const std::vector<uint8_t>& bytes, bool* ok) {
  ByteReader r = ok ? ByteReader::Untrusted(bytes) : ByteReader(bytes);
  UnitResult result;
  const uint8_t kind = r.Get<uint8_t>();
  bool known = true;
  if (kind == 0)
    result = Get<ChoiceRows>(r);
  else if (kind == 1)
    result = Get<TokenRows>(r);
  else if (kind == 2)
    result = Get<GenRows>(r);
  else
    known = false;
  if (ok) *ok = known && r.ok() && r.done();
  QSWEEP_CHECK(ok || known);
  return result;
}

}  // namespace qsweep
