// A GGUF file's SentencePiece tokenizer rebuilt as a ModelProto: the arrays
// llama.cpp's converter writes (pieces, scores, types, special ids), taken
// here from Llama 2's tokenizer.model, must tokenize exactly as that file
// does, over MMLU's questions and text made to be hard.
#include "model/gguf_sentencepiece_model.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

// What convert_hf_to_gguf.py writes for a SentencePiece model.
GgufTokenizerInfo AsGguf(const SentencePieceTokenizer& sp) {
  GgufTokenizerInfo t;
  t.model = "llama";
  for (int32_t id = 0; id < sp.vocab_size(); ++id) {
    t.tokens.push_back(sp.IdToPiece(id));
    t.scores.push_back(sp.Score(id));
    t.token_type.push_back(sp.Type(id));
  }
  t.vocab_size = sp.vocab_size();
  t.bos_id = sp.bos_id(), t.eos_id = sp.eos_id(), t.unk_id = sp.PieceToId("<unk>");
  return t;
}

class GgufSentencePieceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = testing::SharedData("tokenizers/llama2/tokenizer.model").string();
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not here";
    auto t = SentencePieceTokenizer::FromFile(path);
    ASSERT_TRUE(t.ok()) << t.status();
    want_ = std::move(*t);
  }
  std::unique_ptr<SentencePieceTokenizer> want_;
};

TEST_F(GgufSentencePieceTest, TokenizesAsTheModelItCameFrom) {
  auto model = GgufSentencePieceModel(AsGguf(*want_), "llama2.gguf");
  ASSERT_TRUE(model.ok()) << model.status();
  auto got = SentencePieceTokenizer::FromSerialized(*model, "llama2.gguf");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->vocab_size(), want_->vocab_size());
  EXPECT_EQ((*got)->bos_id(), want_->bos_id());
  EXPECT_EQ((*got)->eos_id(), want_->eos_id());
  std::vector<std::string> texts = {
      "Hello world", "  two  spaces and\ttabs\n\nnew lines\r\n", "It's we'll they'd I'M", "12345 + 67 = 12412; 3.14159",
      "naïve café — déjà vu 日本語 🙂 \x01\x7f", "<s>a</s>b", "x=3 y?7 ;; !!", "", " ", "    leading", "trailing   ",
      "The quick brown fox jumps over the lazy dog."};
  for (const auto& e : std::filesystem::directory_iterator(testing::SharedData("benchmarks/mmlu/dev"))) {
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) texts.push_back(line);
  }
  ASSERT_GT(texts.size(), 200u);
  int64_t tokens = 0;
  for (const std::string& s : texts) {
    const std::vector<int32_t> ids = want_->Encode(s);
    tokens += static_cast<int64_t>(ids.size());
    ASSERT_EQ((*got)->Encode(s), ids) << s;
    ASSERT_EQ((*got)->Decode(ids), want_->Decode(ids)) << s;
  }
  EXPECT_GT(tokens, 10000);
  for (int32_t id = 0; id < want_->vocab_size(); id += 37) EXPECT_EQ((*got)->Piece(id), want_->Piece(id)) << id;
}

// Without the space before the text (tokenizer.ggml.add_space_prefix false)
// the first word is a piece without its leading ▁.
TEST_F(GgufSentencePieceTest, TheSpacePrefixIsTheFilesChoice) {
  GgufTokenizerInfo t = AsGguf(*want_);
  t.add_space_prefix = false;
  auto model = GgufSentencePieceModel(t, "m.gguf");
  ASSERT_TRUE(model.ok());
  auto got = SentencePieceTokenizer::FromSerialized(*model, "m.gguf");
  ASSERT_TRUE(got.ok());
  EXPECT_NE((*got)->Encode("Hello world"), want_->Encode("Hello world"));
  EXPECT_EQ((*got)->Piece((*got)->Encode("Hello world")[0]), "Hello");
}

TEST_F(GgufSentencePieceTest, WhatItCannotBuildIsAnError) {
  const GgufTokenizerInfo t = AsGguf(*want_);
  GgufTokenizerInfo none;
  EXPECT_THAT(GgufSentencePieceModel(none, "m.gguf").status().message(), HasSubstr("m.gguf: the GGUF file holds no"));
  GgufTokenizerInfo short_scores = t;
  short_scores.scores.pop_back();
  EXPECT_THAT(GgufSentencePieceModel(short_scores, "m.gguf").status().message(), HasSubstr("needs tokenizer.ggml.scores"));
  GgufTokenizerInfo bad_type = t;
  bad_type.token_type[7] = 9;
  EXPECT_THAT(GgufSentencePieceModel(bad_type, "m.gguf").status().message(), HasSubstr("token 7 has tokenizer.ggml.token_type 9"));
  GgufTokenizerInfo bos = t;
  bos.bos_id = static_cast<int64_t>(t.tokens.size());
  EXPECT_THAT(GgufSentencePieceModel(bos, "m.gguf").status().message(), HasSubstr("the BOS token id 32000"));
}

}  // namespace
}  // namespace qsweep
