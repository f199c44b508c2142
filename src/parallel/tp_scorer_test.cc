// What a tensor-parallel rank sends its leader: every LogitStats array, and
// its error instead when it failed.
#include "parallel/tp_scorer.h"

#include <cstring>
#include <set>

#include <gtest/gtest.h>

#include "record_members.h"

namespace qsweep {
namespace {

TEST(LogitStatsFields, ListNamesEveryArrayOnce) {
  LogitStats s;
  std::set<const void*> arrays;
  size_t n = 0;
  ForEachArray(
      [&](const auto& v) {
        ++n;
        arrays.insert(&v);
      },
      s);
  EXPECT_EQ(n + 1, testing::CountMembers<LogitStats>());  // and vocab_begin
  EXPECT_EQ(arrays.size(), n);
}

// Two chunks whose arrays all have lengths and bytes of their own.
std::vector<LogitStats> DistinctChunks() {
  std::vector<LogitStats> chunks(2);
  uint8_t byte = 1;
  for (size_t c = 0; c < chunks.size(); ++c) {
    chunks[c].vocab_begin = 100 * static_cast<int64_t>(c) + 7;
    size_t length = 3 + c;
    ForEachArray(
        [&](auto& v) {
          v.resize(length++);
          auto* p = reinterpret_cast<uint8_t*>(v.data());
          for (size_t i = 0; i < v.size() * sizeof(v[0]); ++i) p[i] = static_cast<uint8_t>(byte + 13 * i);
          byte += 29;
        },
        chunks[c]);
  }
  return chunks;
}

TEST(RankStats, EveryArrayOfEveryChunkRoundTrips) {
  const std::vector<LogitStats> sent = DistinctChunks();
  std::vector<LogitStats> got = {LogitStats{}};  // decoding appends
  ASSERT_TRUE(DecodeRankStats(EncodeRankStats(absl::OkStatus(), sent), 1, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  for (size_t c = 0; c < sent.size(); ++c) {
    EXPECT_EQ(got[c + 1].vocab_begin, sent[c].vocab_begin);
    ForEachArray(
        [&](const auto& x, const auto& y) {
          ASSERT_EQ(x.size(), y.size());
          EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])), 0) << "chunk " << c;
        },
        got[c + 1], sent[c]);
  }
}

TEST(RankStats, ARanksErrorReachesTheLeaderWithItsRank) {
  std::vector<LogitStats> got;
  const absl::Status s =
      DecodeRankStats(EncodeRankStats(absl::InvalidArgumentError("batch of 9 tokens"), DistinctChunks()), 3, &got);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "tensor-parallel rank 3: batch of 9 tokens");
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace qsweep
