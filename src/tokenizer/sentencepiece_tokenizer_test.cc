#include "tokenizer/sentencepiece_tokenizer.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_paths.h"

namespace qsweep {
namespace {

using Pieces = std::vector<std::string>;

class Llama2SentencePiece : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto path = testing::SharedData("tokenizers/llama2/tokenizer.model");
    QSWEEP_REQUIRE_FILE(path);
    auto tok = SentencePieceTokenizer::FromFile(path.string());
    ASSERT_TRUE(tok.ok()) << tok.status();
    tok_ = std::move(*tok);
  }
  Pieces PiecesOf(std::string_view text) {
    Pieces out;
    for (int32_t id : tok_->Encode(text)) out.push_back(tok_->IdToPiece(id));
    return out;
  }
  std::unique_ptr<SentencePieceTokenizer> tok_;
};

TEST_F(Llama2SentencePiece, KnownIdsAndSpecials) {
  // Llama 2 encodes "Hello world" (without BOS) as 15043, 3186.
  EXPECT_EQ(tok_->Encode("Hello world"), (std::vector<int32_t>{15043, 3186}));
  EXPECT_EQ(tok_->IdToPiece(15043), "\xE2\x96\x81Hello");  // "▁Hello"
  EXPECT_EQ(tok_->vocab_size(), 32000);
  EXPECT_EQ(tok_->bos_id(), 1);
  EXPECT_EQ(tok_->eos_id(), 2);
  EXPECT_TRUE(tok_->Encode("").empty());
}

TEST_F(Llama2SentencePiece, PiecesAreTheVocabularysEntries) {
  EXPECT_EQ(tok_->Piece(15043), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok_->Piece(1), "<s>");
  EXPECT_EQ(tok_->Piece(-1), std::nullopt);
  EXPECT_EQ(tok_->Piece(32000), std::nullopt);
}

TEST_F(Llama2SentencePiece, DigitsSplitAndBytesFallBack) {
  const std::string u = "\xE2\x96\x81";  // "▁", the dummy-prefix space
  EXPECT_EQ(PiecesOf("1234"), (Pieces{u, "1", "2", "3", "4"}));
  EXPECT_EQ(PiecesOf("\xF0\x9F\x98\x80"), (Pieces{u, "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}));
}

TEST_F(Llama2SentencePiece, InvalidUtf8IsReplacedLikePython) {
  EXPECT_EQ(tok_->Encode("a\xFF" "b"), tok_->Encode("a\xEF\xBF\xBD" "b"));
  EXPECT_EQ(tok_->Encode("a\xE2\x82"), tok_->Encode("a\xEF\xBF\xBD"));
}

TEST_F(Llama2SentencePiece, DecodeInvertsEncode) {
  for (const std::string text : {"Hello world", "The quick brown fox, 1234 times.",
                                 "\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 caf\xC3\xA9"}) {
    EXPECT_EQ(tok_->Decode(tok_->Encode(text)), text);
  }
}

TEST(SentencePieceTokenizer, LoadErrorsNameTheFile) {
  const auto dir = testing::ScratchDir("sp_load_errors");
  const std::string garbage = (dir / "tokenizer.model").string();
  std::ofstream(garbage) << "this is not a protobuf \xFF\xFF\xFF";
  auto tok = SentencePieceTokenizer::FromFile(garbage);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find(garbage), std::string::npos) << tok.status();
  auto missing = SentencePieceTokenizer::FromFile((dir / "absent.model").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("absent.model"), std::string::npos);
}

}  // namespace
}  // namespace qsweep
