#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;

// The smallest byte-level BPE: "a", "b" and the merge "a b".
constexpr char kTinyJson[] = R"({
  "added_tokens": [{"id": 3, "content": "</s>", "special": true, "normalized": false,
                    "lstrip": false, "rstrip": false, "single_word": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": null, "decoder": null,
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
})";

std::string Message(const absl::StatusOr<std::unique_ptr<Tokenizer>>& t) {
  return std::string(t.status().message());
}

TEST(LoadTokenizer, PicksTheKindByExtensionOrDirectoryContent) {
  const auto model = testing::SharedData("tokenizers/llama2/tokenizer.model");
  QSWEEP_REQUIRE_FILE(model);
  auto sp = LoadTokenizer(model.string());
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ((*sp)->vocab_size(), 32000);
  auto sp_dir = LoadTokenizer(model.parent_path().string());
  ASSERT_TRUE(sp_dir.ok()) << sp_dir.status();
  EXPECT_EQ((*sp_dir)->Encode("Hello world"), (*sp)->Encode("Hello world"));

  // A directory with both prefers tokenizer.json.
  const auto dir = testing::ScratchDir("load_both");
  std::ofstream(dir / "tokenizer.json") << kTinyJson;
  fs::copy_file(model, dir / "tokenizer.model");
  auto both = LoadTokenizer(dir.string());
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ((*both)->vocab_size(), 4);
  EXPECT_EQ((*both)->Encode("aab</s>"), (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ((*both)->eos_id(), 3);
  EXPECT_EQ((*both)->bos_id(), -1);
}

TEST(LoadTokenizer, ErrorsNameThePath) {
  const auto dir = testing::ScratchDir("load_errors");
  auto empty = LoadTokenizer(dir.string());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(Message(empty).find(dir.string()), std::string::npos) << Message(empty);
  EXPECT_NE(Message(empty).find("neither tokenizer.json nor tokenizer.model"), std::string::npos);

  auto missing = LoadTokenizer((dir / "gone.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(Message(missing).find("gone.json"), std::string::npos);

  std::ofstream(dir / "vocab.txt") << "a\nb\n";
  auto odd = LoadTokenizer((dir / "vocab.txt").string());
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(Message(odd).find("vocab.txt"), std::string::npos);

  const auto bad_dir = testing::ScratchDir("load_errors_corrupt");
  std::ofstream(bad_dir / "tokenizer.json") << "[1, 2";
  auto corrupt = LoadTokenizer(bad_dir.string());
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(Message(corrupt).find((bad_dir / "tokenizer.json").string()), std::string::npos)
      << Message(corrupt);

  std::ofstream(bad_dir / "unigram.json")
      << R"({"normalizer": null, "pre_tokenizer": {"type": "ByteLevel"},
            "model": {"type": "Unigram", "vocab": [["a", 0.0]]}})";
  auto unigram = LoadTokenizer((bad_dir / "unigram.json").string());
  ASSERT_FALSE(unigram.ok());
  EXPECT_NE(Message(unigram).find("unigram.json: unsupported model type Unigram"), std::string::npos)
      << Message(unigram);
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

// Inputs the tokenizer_json fuzz target found (token ids that are floats
// or too large: undefined behaviour in the conversion), each now an error;
// and the same by hand.
TEST(LoadTokenizer, TokenIdsMustBeIntegersInRange) {
  for (const auto& e : std::filesystem::directory_iterator(testing::RepoTestData("fuzz/tokenizer_json")))
    EXPECT_FALSE(LoadTokenizer(e.path().string()).ok()) << e.path();
  for (const char* id : {"1e30", "-1", "2.5", "4294967296"}) {
    const std::string path = ::testing::TempDir() + "/ids_tokenizer.json";
    std::ofstream(path) << R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                               "model": {"type": "BPE", "vocab": {"a": )"
                        << id << R"(}, "merges": []}})";
    auto t = LoadTokenizer(path);
    ASSERT_FALSE(t.ok()) << id;
    EXPECT_NE(std::string(t.status().message()).find("is not an integer in [0, 2^31)"), std::string::npos)
        << t.status();
  }
}

}  // namespace
}  // namespace qsweep
