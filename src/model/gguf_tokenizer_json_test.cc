// A GGUF file's byte-level BPE tokenizer rebuilt as tokenizer.json: the
// arrays llama.cpp's converter writes (tokens by id, merges, token types,
// the pre-tokenizer's name, BOS/EOS), taken here from a Llama-3-style
// tokenizer.json, must tokenize exactly as that file does.
#include "model/gguf_tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer/byte_level_bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

const std::string kLlama3 = "tokenizers/bpe_llama3/tokenizer.json";

// What llama.cpp's convert_hf_to_gguf.py writes for a tokenizer.json.
GgufTokenizerInfo AsGguf(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str());
  GgufTokenizerInfo t;
  t.model = "gpt2";
  t.pre = "llama-bpe";
  int64_t n = 0;
  for (const auto& [token, id] : j["model"]["vocab"].items()) n = std::max<int64_t>(n, id.get<int64_t>() + 1);
  for (const auto& a : j["added_tokens"]) n = std::max<int64_t>(n, a["id"].get<int64_t>() + 1);
  t.tokens.assign(n, "");
  t.token_type.assign(n, 1);
  for (const auto& [token, id] : j["model"]["vocab"].items()) t.tokens[id.get<int64_t>()] = token;
  for (const auto& a : j["added_tokens"]) {
    t.tokens[a["id"].get<int64_t>()] = a["content"].get<std::string>();
    t.token_type[a["id"].get<int64_t>()] = a["special"].get<bool>() ? 3 : 4;
  }
  for (const auto& m : j["model"]["merges"])
    t.merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  t.vocab_size = n;
  t.bos_id = 0;
  t.eos_id = 1;
  return t;
}

TEST(GgufTokenizerJson, TokenizesAsTheTokenizerJsonItCameFrom) {
  const std::string path = testing::RepoTestData(kLlama3).string();
  auto want = LoadTokenizer(path);
  ASSERT_TRUE(want.ok()) << want.status();
  auto json = GgufTokenizerJson(AsGguf(path), "model.gguf");
  ASSERT_TRUE(json.ok()) << json.status();
  auto got = ByteLevelBpeTokenizer::FromJson(*json, "model.gguf");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->vocab_size(), (*want)->vocab_size());
  EXPECT_EQ((*got)->bos_id(), (*want)->bos_id());
  EXPECT_EQ((*got)->eos_id(), (*want)->eos_id());
  const std::vector<std::string> texts = {
      "Hello world", "  two  spaces and\ttabs\n\nnew lines\r\n", "It's we'll they'd I'M",
      "12345 + 67 = 12412; 3.14159", "naïve café — déjà vu 日本語 🙂", "<|begin_of_text|>a<|eot_id|>b",
      "x=3 y?7 ;; !!", "", "The quick brown fox jumps over the lazy dog."};
  for (const std::string& s : texts) {
    const std::vector<int32_t> ids = (*want)->Encode(s);
    EXPECT_EQ((*got)->Encode(s), ids) << s;
    EXPECT_EQ((*got)->Decode(ids), (*want)->Decode(ids)) << s;
  }
  for (int32_t id = 0; id < (*want)->vocab_size(); id += 97) EXPECT_EQ((*got)->Piece(id), (*want)->Piece(id)) << id;
}

TEST(GgufTokenizerJson, WhatItCannotBuildIsAnError) {
  GgufTokenizerInfo t = AsGguf(testing::RepoTestData(kLlama3).string());
  GgufTokenizerInfo spm = t;
  spm.model = "llama";
  EXPECT_THAT(GgufTokenizerJson(spm, "m.gguf").status().message(), HasSubstr("m.gguf: its tokenizer is 'llama'"));
  GgufTokenizerInfo none = t;
  none.merges.clear();
  EXPECT_THAT(GgufTokenizerJson(none, "m.gguf").status().message(), HasSubstr("holds no merges"));
  GgufTokenizerInfo other = t;
  other.pre = "tekken";
  EXPECT_THAT(GgufTokenizerJson(other, "m.gguf").status().message(),
              HasSubstr("pre-tokenizer 'tekken' is not known here (llama-bpe, llama3, qwen2, gpt2, default)"));
  GgufTokenizerInfo bos = t;
  bos.bos_id = static_cast<int64_t>(t.tokens.size());
  EXPECT_THAT(GgufTokenizerJson(bos, "m.gguf").status().message(), HasSubstr("BOS/EOS id"));
}

}  // namespace
}  // namespace qsweep
