#include "tokenizer/added_vocabulary.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace qsweep {
namespace {

using Pieces = std::vector<std::pair<std::string, int32_t>>;

Pieces SplitToPieces(const AddedVocabulary& vocab, std::string_view text) {
  Pieces out;
  for (const TextSegment& s : vocab.Split(text)) out.emplace_back(std::string(s.text), s.added_id);
  return out;
}

AddedToken Token(std::string content, int32_t id) {
  AddedToken t;
  t.content = std::move(content);
  t.id = id;
  t.special = true;
  return t;
}

TEST(AddedVocabulary, CutsSpecialTokensOutOfText) {
  AddedVocabulary vocab({Token("<|begin_of_text|>", 100), Token("<|eot_id|>", 101)});
  EXPECT_EQ(SplitToPieces(vocab, "<|begin_of_text|>Hi<|eot_id|><|eot_id|> x"),
            (Pieces{{"<|begin_of_text|>", 100}, {"Hi", -1}, {"<|eot_id|>", 101},
                    {"<|eot_id|>", 101}, {" x", -1}}));
  EXPECT_EQ(SplitToPieces(vocab, "<|eot_id|"), (Pieces{{"<|eot_id|", -1}}));
  EXPECT_TRUE(vocab.Split("").empty());
}

TEST(AddedVocabulary, LongestMatchWinsAtEachPosition) {
  AddedVocabulary vocab({Token("ab", 1), Token("abc", 2)});
  EXPECT_EQ(SplitToPieces(vocab, "xabcabd"),
            (Pieces{{"x", -1}, {"abc", 2}, {"ab", 1}, {"d", -1}}));
}

TEST(AddedVocabulary, StripFlagsSwallowWhitespace) {
  AddedToken mask = Token("<mask>", 5);
  mask.lstrip = true;
  mask.rstrip = true;
  AddedVocabulary vocab({mask});
  EXPECT_EQ(SplitToPieces(vocab, "a \t<mask>  b"),
            (Pieces{{"a", -1}, {" \t<mask>  ", 5}, {"b", -1}}));
  // U+3000 IDEOGRAPHIC SPACE is whitespace too.
  EXPECT_EQ(SplitToPieces(vocab, "a\xE3\x80\x80<mask>"), (Pieces{{"a", -1}, {"\xE3\x80\x80<mask>", 5}}));
}

TEST(AddedVocabulary, SingleWordNeedsNonWordNeighbours) {
  AddedToken hi = Token("hi", 7);
  hi.single_word = true;
  AddedVocabulary vocab({hi});
  EXPECT_EQ(SplitToPieces(vocab, "hi there"), (Pieces{{"hi", 7}, {" there", -1}}));
  EXPECT_EQ(SplitToPieces(vocab, "this"), (Pieces{{"this", -1}}));
  EXPECT_EQ(SplitToPieces(vocab, "hi_"), (Pieces{{"hi_", -1}}));
  EXPECT_EQ(SplitToPieces(vocab, "\xC3\xA9hi"), (Pieces{{"\xC3\xA9hi", -1}}));  // é is a letter
  EXPECT_EQ(SplitToPieces(vocab, "(hi)"), (Pieces{{"(", -1}, {"hi", 7}, {")", -1}}));
}

TEST(AddedVocabulary, RawTokensAreMatchedBeforeNormalizedOnes) {
  AddedToken normalized = Token("a<x", 9);
  normalized.normalized = true;
  AddedVocabulary vocab({Token("<x>", 8), normalized});
  // One leftmost-longest pass would take "a<x" at 0; HF cuts "<x>" first.
  EXPECT_EQ(SplitToPieces(vocab, "a<x>"), (Pieces{{"a", -1}, {"<x>", 8}}));
  EXPECT_EQ(SplitToPieces(vocab, "a<xy"), (Pieces{{"a<x", 9}, {"y", -1}}));
}

}  // namespace
}  // namespace qsweep
