// Encodings of real HF tokenizers (`tokenizers` 0.23) and of sentencepiece,
// generated in Python from the raw input bytes (decoded with
// errors="replace"), must be reproduced token for token.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "test_paths.h"
#include "tokenizer/byte_level_bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep {
namespace {

struct GoldenLine {
  std::string text;
  std::vector<int32_t> ids;
};

// Lines of {"text_b64": ..., "ids": [...]}.
std::vector<GoldenLine> ReadGolden(const std::filesystem::path& path) {
  std::vector<GoldenLine> lines;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ":" << number << ": not JSON";
    if (j.is_discarded()) continue;
    GoldenLine g;
    std::string b64 = j.at("text_b64").get<std::string>();
    EXPECT_TRUE(absl::Base64Unescape(b64, &g.text)) << path << ":" << number << ": bad base64";
    g.ids = j.at("ids").get<std::vector<int32_t>>();
    lines.push_back(std::move(g));
  }
  return lines;
}

void ExpectGolden(const Tokenizer& tok, const std::filesystem::path& golden, bool check_decode) {
  const std::vector<GoldenLine> lines = ReadGolden(golden);
  ASSERT_FALSE(lines.empty()) << "no golden lines in " << golden;
  int mismatches = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const GoldenLine& g = lines[i];
    const std::vector<int32_t> got = tok.Encode(g.text);
    if (got != g.ids) {
      ++mismatches;
      if (mismatches <= 10) {
        ADD_FAILURE() << golden << " line " << i + 1 << ": text " << ::testing::PrintToString(g.text)
                      << "\n  want " << ::testing::PrintToString(g.ids)
                      << "\n  got  " << ::testing::PrintToString(got);
      }
    }
    if (check_decode) {
      EXPECT_EQ(tok.Decode(g.ids), RepairUtf8(g.text)) << golden << " line " << i + 1;
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << lines.size() << " golden lines";
}

TEST(Golden, ByteLevelBpeLlama3MatchesHfTokenizers) {
  const auto dir = testing::RepoTestData("tokenizers/bpe_llama3");
  QSWEEP_REQUIRE_FILE(dir / "tokenizer.json");
  QSWEEP_REQUIRE_FILE(dir / "golden.jsonl");
  auto tok = ByteLevelBpeTokenizer::FromFile((dir / "tokenizer.json").string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectGolden(**tok, dir / "golden.jsonl", /*check_decode=*/true);
}

TEST(Golden, Llama2SentencePieceMatchesPython) {
  const auto model = testing::SharedData("tokenizers/llama2/tokenizer.model");
  const auto golden = testing::RepoTestData("tokenizers/llama2_sp_golden.jsonl");
  QSWEEP_REQUIRE_FILE(model);
  QSWEEP_REQUIRE_FILE(golden);
  auto tok = SentencePieceTokenizer::FromFile(model.string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectGolden(**tok, golden, /*check_decode=*/false);
}

}  // namespace
}  // namespace qsweep
