// The field lists of ChoiceRows and TokenRows name every member, and the
// unit codec that walks them carries every size and array bit for bit.
#include "eval/unit_codec.h"

#include <cstring>
#include <set>

#include <gtest/gtest.h>

#include "record_members.h"

namespace qsweep {
namespace {

// How many members a record's lists yield, and how many distinct ones.
template <typename Rows>
std::pair<size_t, size_t> Listed() {
  Rows r;
  size_t n = 0;
  std::set<const void*> members;
  ForEachSize(
      [&](const char*, const auto& size) {
        ++n;
        members.insert(&size);
      },
      r);
  ForEachColumn(
      [&](const auto& c) {
        ++n;
        members.insert(&c.values);
      },
      r);
  return {n, members.size()};
}

TEST(RecordFields, ListsNameEveryMemberOnce) {
  const size_t choice_members = testing::CountMembers<ChoiceRows>(), token_members = testing::CountMembers<TokenRows>();
  EXPECT_EQ(Listed<ChoiceRows>(), std::make_pair(choice_members, choice_members));  // (listed, distinct)
  EXPECT_EQ(Listed<TokenRows>(), std::make_pair(token_members, token_members));
  const size_t gen_members = testing::CountMembers<GenRows>();
  EXPECT_EQ(Listed<GenRows>(), std::make_pair(gen_members, gen_members));
  EXPECT_EQ(choice_members, 9u);  // the counter itself counts: 2 sizes, 7 arrays
}

// Sizes 3, 4, 5, ...; every array whole, its bytes distinct from every other
// array's (so a swap or a missing array shows).
template <typename Rows>
Rows Distinct() {
  Rows r;
  int64_t next_size = 3;
  ForEachSize([&](const char*, auto& size) { size = next_size++; }, r);
  uint8_t byte = 1;
  ForEachColumn(
      [&](const auto& c) {
        c.values.resize(c.rows * c.width());
        auto* p = reinterpret_cast<uint8_t*>(c.values.data());
        for (size_t i = 0; i < c.values.size() * sizeof(c.values[0]); ++i) p[i] = static_cast<uint8_t>(byte + 7 * i);
        byte += 31;
      },
      r);
  return r;
}

template <typename Rows>
void ExpectSameBits(const Rows& a, const Rows& b) {
  ForEachSize([&](const char* name, const auto& x, const auto& y) { EXPECT_EQ(x, y) << name; }, a, b);
  ForEachColumn(
      [&](const auto& x, const auto& y) {
        ASSERT_EQ(x.values.size(), y.values.size()) << x.name;
        // (memcmp takes no null pointers, even for no bytes)
        EXPECT_TRUE(x.values.empty() ||
                    std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(x.values[0])) == 0)
            << x.name;
      },
      a, b);
}

TEST(UnitCodec, EverySizeAndArrayRoundTrips) {
  const ChoiceRows c = Distinct<ChoiceRows>();
  ASSERT_EQ(c.choice_greedy.size(), 3u * 4u);
  const UnitResult choices = DecodeUnitResult(EncodeUnitResult(c));
  ASSERT_TRUE(std::holds_alternative<ChoiceRows>(choices));
  ExpectSameBits(c, std::get<ChoiceRows>(choices));

  const TokenRows t = Distinct<TokenRows>();
  ASSERT_EQ(t.logprob_f16.size(), 3u * 5u);
  const UnitResult tokens = DecodeUnitResult(EncodeUnitResult(t));
  ASSERT_TRUE(std::holds_alternative<TokenRows>(tokens));
  ExpectSameBits(t, std::get<TokenRows>(tokens));

  const GenRows g = Distinct<GenRows>();
  ASSERT_EQ(g.tokens.size(), 3u * 4u);
  ASSERT_EQ(g.text.size(), 3u * 5u);
  const UnitResult gens = DecodeUnitResult(EncodeUnitResult(g));
  ASSERT_TRUE(std::holds_alternative<GenRows>(gens));
  ExpectSameBits(g, std::get<GenRows>(gens));
}

// A record of a kind this program does not write (a damaged journal) is
// reported, not read as another kind.
TEST(UnitCodec, UnknownKindIsNotDecoded) {
  std::vector<uint8_t> bytes = EncodeUnitResult(GenRows{});
  bytes[0] = 7;
  bool ok = true;
  (void)DecodeUnitResult(bytes, &ok);
  EXPECT_FALSE(ok);
}

TEST(UnitCodec, EmptyRecordsRoundTrip) {
  const UnitResult c = DecodeUnitResult(EncodeUnitResult(ChoiceRows{}));
  ASSERT_TRUE(std::holds_alternative<ChoiceRows>(c));
  ExpectSameBits(ChoiceRows{}, std::get<ChoiceRows>(c));
  const UnitResult t = DecodeUnitResult(EncodeUnitResult(TokenRows{}));
  ASSERT_TRUE(std::holds_alternative<TokenRows>(t));
  ExpectSameBits(TokenRows{}, std::get<TokenRows>(t));
}

}  // namespace
}  // namespace qsweep
