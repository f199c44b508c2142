#include "tokenizer/byte_level_bpe_tokenizer.h"

#include <fstream>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer/byte_level_alphabet.h"

namespace qsweep {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

constexpr char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A hand-made byte-level BPE: ids 0..255 are the byte alphabet (id == byte
// value), merges 0..14 make ids 256..270, "Ġhello" (271) no merge reaches,
// and three Llama 3 specials (300..302). Expected ids below were worked out
// by hand and checked with a separate Python script (naive BPE over the
// `regex` module's pre-tokenization).
const char* const kMerges[] = {"Ġ t", "h e", "Ġt he", "' s", "l l", "' ll", "3 4", "1 2",
                               "12 3", "Ċ Ċ", "Ġ Ġ", "ä ¸", "ä¸ Ń", "' V", "I '"};

enum class Pre { kLlama3, kGpt2 };

json MakeTokenizerJson(Pre pre, bool ignore_merges = false, bool merges_as_pairs = false) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelEncode(std::string(1, static_cast<char>(b)))] = b;
  json merges = json::array();
  int next_id = 256;
  for (const char* m : kMerges) {
    const std::string s = m;
    const std::string a = s.substr(0, s.find(' ')), b = s.substr(s.find(' ') + 1);
    vocab[a + b] = next_id++;
    merges.push_back(merges_as_pairs ? json::array({a, b}) : json(s));
  }
  vocab["\xC4\xA0hello"] = 271;
  json added = json::array();
  int id = 300;
  for (const char* t : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}) {
    added.push_back({{"id", id++}, {"content", t}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
  json pre_tokenizer;
  if (pre == Pre::kLlama3) {
    byte_level["use_regex"] = false;
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers",
                      {{{"type", "Split"},
                        {"pattern", {{"Regex", kLlama3Pattern}}},
                        {"behavior", "Isolated"},
                        {"invert", false}},
                       byte_level}}};
  } else {
    byte_level["use_regex"] = true;
    pre_tokenizer = byte_level;
  }
  json post = {{"type", "TemplateProcessing"},
               {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
               {"special_tokens",
                {{"<|begin_of_text|>",
                  {{"id", "<|begin_of_text|>"}, {"ids", {300}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", post},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
            {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", ignore_merges},
            {"vocab", vocab}, {"merges", merges}}}};
}

std::unique_ptr<ByteLevelBpeTokenizer> Load(const json& j) {
  auto tok = ByteLevelBpeTokenizer::FromJson(j.dump(), "test.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(*tok) : nullptr;
}

struct Case {
  std::string text;
  Ids llama3, gpt2;
};

const Case kCases[] = {
    {"", {}, {}},
    {" the", {258}, {258}},
    {"it's", {105, 116, 259}, {105, 116, 259}},
    {"He'll", {72, 101, 261}, {72, 101, 261}},
    {"I'VE", {73, 269, 69}, {73, 39, 86, 69}},  // only Llama 3's (?i:...) keeps 'VE together
    {"1234567", {264, 52, 53, 54, 55}, {263, 262, 53, 54, 55}},  // digits in 3s vs one run
    {"a\n\nb", {97, 265, 98}, {97, 10, 10, 98}},
    {"a   b", {97, 266, 32, 98}, {97, 266, 32, 98}},
    {"\xE4\xB8\xAD", {268}, {268}},                                        // 中
    {"\xE4\xB8\xAD\xE6\x96\x87", {268, 230, 150, 135}, {268, 230, 150, 135}},  // 中文
    {"\xF0\x9F\x98\x80", {240, 159, 152, 128}, {240, 159, 152, 128}},      // 😀
    {"\xFF", {239, 191, 189}, {239, 191, 189}},                            // invalid -> U+FFFD
    {"a\xE2\x82", {97, 239, 191, 189}, {97, 239, 191, 189}},                // truncated
    {"<|eot_id|", {60, 124, 101, 111, 116, 95, 105, 100, 124},
     {60, 124, 101, 111, 116, 95, 105, 100, 124}},
    {" hello", {32, 257, 260, 111}, {32, 257, 260, 111}},
    {"<|begin_of_text|>Hi<|eot_id|>", {300, 72, 105, 302}, {300, 72, 105, 302}},
    {"x<|end_of_text|> the", {120, 301, 258}, {120, 301, 258}},
};

TEST(ByteLevelBpeTokenizer, Llama3StyleHandComputed) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3));
  ASSERT_NE(tok, nullptr);
  for (const Case& c : kCases) EXPECT_EQ(tok->Encode(c.text), c.llama3) << ::testing::PrintToString(c.text);
}

TEST(ByteLevelBpeTokenizer, Gpt2StyleHandComputed) {
  auto tok = Load(MakeTokenizerJson(Pre::kGpt2, false, /*merges_as_pairs=*/true));
  ASSERT_NE(tok, nullptr);
  for (const Case& c : kCases) EXPECT_EQ(tok->Encode(c.text), c.gpt2) << ::testing::PrintToString(c.text);
}

TEST(ByteLevelBpeTokenizer, BrokenJsonSaysWhereAndWhy) {
  auto tok = ByteLevelBpeTokenizer::FromJson("{\"model\": {\"type\": \"BPE\",\n  \"vocab\": [1,,2]}}", "t.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("t.json: not valid JSON"), std::string::npos) << tok.status();
  EXPECT_NE(tok.status().message().find("line 2, column 15"), std::string::npos) << tok.status();
}

TEST(ByteLevelBpeTokenizer, PiecesAreTheVocabularysEntries) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Piece(258), "\xC4\xA0the");  // "Ġthe": byte-level, as the file lists it
  EXPECT_EQ(tok->Piece(300), "<|begin_of_text|>");  // an added token
  EXPECT_EQ(tok->Piece(97), "a");
  EXPECT_EQ(tok->Piece(100000), std::nullopt);
}

TEST(ByteLevelBpeTokenizer, ConcurrentEncodesAgree) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3));
  ASSERT_NE(tok, nullptr);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (const Case& c : kCases) wrong[t] += tok->Encode(c.text) != c.llama3;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(ByteLevelBpeTokenizer, IgnoreMergesEmitsWholeWords) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3, /*ignore_merges=*/true));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode(" hello"), (Ids{271}));
  EXPECT_EQ(tok->Encode(" hellos"), (Ids{32, 257, 260, 111, 115}));
}

TEST(ByteLevelBpeTokenizer, SpecialIdsAndVocabSize) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->bos_id(), 300);  // from the TemplateProcessing post-processor
  EXPECT_EQ(tok->eos_id(), 301);  // by name
  EXPECT_EQ(tok->vocab_size(), 303);
  EXPECT_EQ(tok->TokenToId("<|eot_id|>"), 302);
  EXPECT_EQ(tok->TokenToId("\xC4\xA0the"), 258);
}

TEST(ByteLevelBpeTokenizer, DecodeInvertsEncode) {
  auto tok = Load(MakeTokenizerJson(Pre::kLlama3));
  ASSERT_NE(tok, nullptr);
  for (const Case& c : kCases) {
    if (c.text == "\xFF" || c.text == "a\xE2\x82") continue;
    EXPECT_EQ(tok->Decode(tok->Encode(c.text)), c.text);
  }
  EXPECT_EQ(tok->Decode(tok->Encode("a\xE2\x82")), "a\xEF\xBF\xBD");
  EXPECT_EQ(tok->Decode({300, 72, 105}), "<|begin_of_text|>Hi");
  EXPECT_EQ(tok->Decode({240, 159}), "\xEF\xBF\xBD");  // half an emoji: replaced as HF does
  EXPECT_EQ(tok->Decode({99999, 97}), "a");             // unknown ids are skipped
}

TEST(ByteLevelBpeTokenizer, RefusesWhatItCannotReproduce) {
  struct Bad {
    std::string what;
    std::function<void(json&)> edit;
    std::string message;
  } bads[] = {
      {"model type", [](json& j) { j["model"]["type"] = "WordPiece"; }, "unsupported model type WordPiece"},
      {"normalizer", [](json& j) { j["normalizer"] = {{"type", "NFC"}}; }, "unsupported normalizer NFC"},
      {"pre-tokenizer", [](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "ByteLevel"},
      {"split behavior",
       [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, "Isolated"},
      {"bad regex", [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; },
       "does not compile"},
      {"merge", [](json& j) { j["model"]["merges"].push_back("x zz"); }, "not in the vocab"},
      {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, "dropout"},
      {"vocab type", [](json& j) { j["model"]["vocab"]["zz"] = "nine"; }, "malformed tokenizer.json"},
  };
  for (const Bad& bad : bads) {
    json j = MakeTokenizerJson(Pre::kLlama3);
    bad.edit(j);
    auto tok = ByteLevelBpeTokenizer::FromJson(j.dump(), "my/tokenizer.json");
    ASSERT_FALSE(tok.ok()) << bad.what;
    const std::string msg(tok.status().message());
    EXPECT_NE(msg.find("my/tokenizer.json"), std::string::npos) << bad.what << ": " << msg;
    EXPECT_NE(msg.find(bad.message), std::string::npos) << bad.what << ": " << msg;
  }
}

TEST(ByteLevelBpeTokenizer, FileErrorsNameTheFile) {
  const auto dir = testing::ScratchDir("bpe_file_errors");
  const std::string corrupt = (dir / "tokenizer.json").string();
  std::ofstream(corrupt) << "{\"model\": {\"type\": \"BPE\", \"vocab\": {";  // truncated
  auto tok = ByteLevelBpeTokenizer::FromFile(corrupt);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find(corrupt), std::string::npos) << tok.status();
  auto missing = ByteLevelBpeTokenizer::FromFile((dir / "nope.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.json"), std::string::npos);
}

}  // namespace
}  // namespace qsweep
