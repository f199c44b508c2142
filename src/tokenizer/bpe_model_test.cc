#include "tokenizer/bpe_model.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

std::unique_ptr<BpeModel> Make(BpeModel::Vocab vocab, BpeModel::Merges merges,
                               BpeOptions options = {}) {
  auto model = BpeModel::Create(std::move(vocab), merges, std::move(options));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

BpeOptions Options(std::optional<std::string> unk, bool fuse_unk = false, bool byte_fallback = false,
                   bool ignore_merges = false, std::string prefix = "") {
  BpeOptions o;
  o.unk_token = std::move(unk);
  o.fuse_unk = fuse_unk;
  o.byte_fallback = byte_fallback;
  o.ignore_merges = ignore_merges;
  o.continuing_subword_prefix = std::move(prefix);
  return o;
}

std::vector<int32_t> Tok(const BpeModel& m, std::string_view word) {
  std::vector<int32_t> ids;
  m.Tokenize(word, &ids);
  return ids;
}

TEST(BpeModel, LowestRankMergesFirst) {
  BpeModel::Vocab vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}};
  // (b,c) outranks (a,b), so "abc" = a + bc = abc.
  auto m = Make(vocab, {{"b", "c"}, {"a", "b"}, {"a", "bc"}});
  EXPECT_EQ(Tok(*m, "abc"), (std::vector<int32_t>{5}));
  // (a,b) first leaves "ab c", which has no merge.
  auto m2 = Make(vocab, {{"a", "b"}, {"b", "c"}, {"a", "bc"}});
  EXPECT_EQ(Tok(*m2, "abc"), (std::vector<int32_t>{3, 2}));
  EXPECT_EQ(Tok(*m2, "cab"), (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(Tok(*m2, "").empty());
}

TEST(BpeModel, TiesGoToTheLeftmostPair) {
  auto m = Make({{"a", 0}, {"aa", 1}, {"aaaa", 2}}, {{"a", "a"}, {"aa", "aa"}});
  EXPECT_EQ(Tok(*m, "aaa"), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(Tok(*m, "aaaa"), (std::vector<int32_t>{2}));
  EXPECT_EQ(Tok(*m, "aaaaa"), (std::vector<int32_t>{2, 0}));
}

TEST(BpeModel, UnknownCharacters) {
  BpeModel::Vocab vocab = {{"a", 0}, {"b", 1}, {"<unk>", 2}};
  auto plain = Make(vocab, {}, Options("<unk>"));
  EXPECT_EQ(Tok(*plain, "axxb"), (std::vector<int32_t>{0, 2, 2, 1}));
  auto fused = Make(vocab, {}, Options("<unk>", true));
  EXPECT_EQ(Tok(*fused, "axxb"), (std::vector<int32_t>{0, 2, 1}));
  auto none = Make(vocab, {});  // no unk token: HF drops the character
  EXPECT_EQ(Tok(*none, "axb"), (std::vector<int32_t>{0, 1}));
}

TEST(BpeModel, ByteFallback) {
  BpeModel::Vocab vocab = {{"a", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"<unk>", 3}};
  auto m = Make(vocab, {}, Options("<unk>", false, true));
  EXPECT_EQ(Tok(*m, "a\xC3\xA9" "a"), (std::vector<int32_t>{0, 1, 2, 0}));
  // U+00E8 needs <0xA8>, which is missing: the whole character is unknown.
  EXPECT_EQ(Tok(*m, "\xC3\xA8" "a"), (std::vector<int32_t>{3, 0}));
}

TEST(BpeModel, IgnoreMergesTakesWholeWords) {
  BpeModel::Vocab vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}};
  auto merging = Make(vocab, {{"a", "b"}});
  EXPECT_EQ(Tok(*merging, "abc"), (std::vector<int32_t>{3, 2}));
  auto whole = Make(vocab, {{"a", "b"}}, Options(std::nullopt, false, false, true));
  EXPECT_EQ(Tok(*whole, "abc"), (std::vector<int32_t>{4}));
  EXPECT_EQ(Tok(*whole, "abcab"), (std::vector<int32_t>{3, 2, 3}));
}

TEST(BpeModel, ContinuingSubwordPrefix) {
  BpeModel::Vocab vocab = {{"a", 0}, {"##b", 1}, {"ab", 2}, {"b", 3}};
  auto m = Make(vocab, {{"a", "##b"}}, Options(std::nullopt, false, false, false, "##"));
  EXPECT_EQ(Tok(*m, "ab"), (std::vector<int32_t>{2}));
  EXPECT_EQ(Tok(*m, "b"), (std::vector<int32_t>{3}));
}

TEST(BpeModel, CreateRejectsMergesOutsideTheVocab) {
  auto missing = BpeModel::Create({{"a", 0}, {"b", 1}}, {{"a", "c"}}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("\"a\" \"c\""), std::string::npos);
  auto no_result = BpeModel::Create({{"a", 0}, {"b", 1}}, {{"a", "b"}}, {});
  ASSERT_FALSE(no_result.ok());
  EXPECT_NE(no_result.status().message().find("\"ab\""), std::string::npos);
  auto bad_unk = BpeModel::Create({{"a", 0}}, {}, Options("<unk>"));
  EXPECT_FALSE(bad_unk.ok());
}

// Reference: the textbook loop, one merge at a time over token strings.
std::vector<std::string> NaiveBpe(const std::string& word, const BpeModel::Merges& merges) {
  std::vector<std::string> parts;
  for (char c : word) parts.emplace_back(1, c);
  while (true) {
    size_t best_rank = merges.size(), best_pos = 0;
    for (size_t p = 0; p + 1 < parts.size(); ++p) {
      for (size_t r = 0; r < best_rank; ++r) {
        if (merges[r].first == parts[p] && merges[r].second == parts[p + 1]) {
          best_rank = r;
          best_pos = p;
          break;
        }
      }
    }
    if (best_rank == merges.size()) return parts;
    parts[best_pos] += parts[best_pos + 1];
    parts.erase(parts.begin() + best_pos + 1);
  }
}

TEST(BpeModel, RandomMergesMatchNaiveReference) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    BpeModel::Vocab vocab = {{"a", 0}, {"b", 1}, {"c", 2}};
    std::vector<std::string> tokens = {"a", "b", "c"};
    BpeModel::Merges merges;
    while (merges.size() < 25) {
      const std::string x = tokens[rng() % tokens.size()], y = tokens[rng() % tokens.size()];
      if (x.size() + y.size() > 6 || vocab.contains(x + y)) continue;
      merges.emplace_back(x, y);
      vocab[x + y] = static_cast<int32_t>(tokens.size());
      tokens.push_back(x + y);
    }
    auto m = Make(vocab, merges);
    for (int w = 0; w < 50; ++w) {
      std::string word;
      const int len = 1 + rng() % 12;
      for (int i = 0; i < len; ++i) word.push_back("abc"[rng() % 3]);
      std::vector<int32_t> want;
      for (const std::string& part : NaiveBpe(word, merges)) want.push_back(vocab.at(part));
      EXPECT_EQ(Tok(*m, word), want) << word;
      EXPECT_EQ(Tok(*m, word), want) << word << " (cached)";
    }
  }
}

}  // namespace
}  // namespace qsweep
