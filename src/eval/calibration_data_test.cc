#include "eval/calibration_data.h"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"

namespace qsweep {
namespace {

using testing::RepoTestData;
using testing::ScratchDir;

std::unique_ptr<Tokenizer> TinyTokenizer() {
  auto tok = LoadTokenizer(RepoTestData("tiny/model/tokenizer.json").string());
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(*tok);
}

std::string Write(const std::string& name, const std::string& text) {
  static const auto dir = ScratchDir("calibration_data");
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

bool Contains(const std::vector<int32_t>& all, const std::vector<int32_t>& part) {
  return std::search(all.begin(), all.end(), part.begin(), part.end()) != all.end();
}

TEST(CalibrationData, WindowsOfTheTokenizedTextDrawnBySeed) {
  const auto tok = TinyTokenizer();
  const std::string path = RepoTestData("tiny/calibration.txt").string();
  auto a = LoadCalibrationSet({path, 16, 64, 0}, *tok, true);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->sequences.size(), 16u);
  EXPECT_EQ(a->tokens(), 16 * 64);
  EXPECT_EQ(a->source, path);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<int32_t> all = {tok->bos_id()};
  const std::vector<int32_t> body = tok->Encode(text);
  all.insert(all.end(), body.begin(), body.end());
  for (const auto& s : a->sequences) {
    EXPECT_EQ(s.size(), 64u);
    EXPECT_TRUE(Contains(all, s));
  }
  EXPECT_NE(a->sequences[0], a->sequences[1]);
  EXPECT_EQ(a->id.size(), 16u);
  auto again = LoadCalibrationSet({path, 16, 64, 0}, *tok, true);
  EXPECT_EQ(again->sequences, a->sequences);
  EXPECT_EQ(again->id, a->id);
  auto other = LoadCalibrationSet({path, 16, 64, 1}, *tok, true);
  EXPECT_NE(other->id, a->id);
  EXPECT_EQ(other->seed, 1);
  EXPECT_EQ(CalibrationId(a->sequences), a->id);
}

TEST(CalibrationData, TaskFilesGiveContextAndAnswer) {
  const auto tok = TinyTokenizer();
  const std::string path = RepoTestData("tiny/tasks/add.jsonl").string();
  // Each sample's context and correct choice, samples joined by a blank line.
  std::ifstream in(path);
  std::string line, text;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (!text.empty()) text += "\n\n";
    text += j["context"].get<std::string>() + j["choices"][j["label"].get<int>()].get<std::string>();
  }
  ASSERT_TRUE(text.starts_with("15+40=55\n\n96+98=194\n\n"));
  const std::vector<int32_t> all = tok->Encode(text);
  auto set = LoadCalibrationSet({path, 32, 40, 3}, *tok, false);
  ASSERT_TRUE(set.ok()) << set.status();
  for (const auto& q : set->sequences) {
    EXPECT_EQ(q.size(), 40u);
    EXPECT_TRUE(Contains(all, q));
  }
  auto whole = LoadCalibrationSet({path, 1, static_cast<int64_t>(all.size()), 0}, *tok, false);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->sequences[0], all);
  EXPECT_FALSE(LoadCalibrationSet({path, 1, static_cast<int64_t>(all.size()) + 1, 0}, *tok, false).ok());
}

class NoTokens : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view) const override { return {}; }
  std::string Decode(const std::vector<int32_t>&) const override { return ""; }
  int64_t vocab_size() const override { return 1; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }
  std::optional<std::string> Piece(int32_t) const override { return std::nullopt; }
};

TEST(CalibrationData, BadInputsNameTheFile) {
  const auto tok = TinyTokenizer();
  auto expect_error = [](const absl::StatusOr<CalibrationSet>& r, const std::string& text) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status();
  };
  expect_error(LoadCalibrationSet({"/nonexistent/c4.txt", 8, 16, 0}, *tok, true),
               "/nonexistent/c4.txt: cannot open");
  const std::string empty = Write("empty.txt", "");
  expect_error(LoadCalibrationSet({empty, 8, 16, 0}, *tok, true), empty + ": empty text corpus");
  const std::string short_text = Write("short.txt", "1+2=3");  // BOS and one token a character
  expect_error(LoadCalibrationSet({short_text, 8, 2048, 0}, *tok, true),
               short_text + ": 6 tokens, shorter than one calibration sequence of 2048 tokens");
  NoTokens none;
  expect_error(LoadCalibrationSet({short_text, 8, 16, 0}, none, true), short_text + ": the calibration text tokenizes to no tokens");
  expect_error(LoadCalibrationSet({short_text, 0, 16, 0}, *tok, true), short_text + ": calibration needs sequences >= 1");
  const std::string bad_jsonl = Write("bad.jsonl", "{\"id\": 1}\n");
  EXPECT_FALSE(LoadCalibrationSet({bad_jsonl, 8, 16, 0}, *tok, true).ok());
}

}  // namespace
}  // namespace qsweep
