// A GGUF file written with the tiny model's tokenizer arrays (tokens,
// merges, token types, pre-tokenizer) tokenizes every task text of the tiny
// model exactly as its tokenizer.json does; a GGUF whose tokenizer cannot be
// rebuilt is one error naming the file.
#include "sweep/model_tokenizer.h"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_format.h"

#include "eval/tasks/task.h"
#include "model/checkpoint.h"
#include "model/gguf_sentencepiece_model.h"
#include "model/gguf_writer_for_test.h"
#include "test_paths.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace qsweep {
namespace {

using ::testing::HasSubstr;

struct Arrays {
  std::vector<std::string> tokens;
  testing::GgufBpeArrays bpe;
};

// The tiny tokenizer's arrays, read from its tokenizer.json as llama.cpp's
// converter reads them (the merges as "a b", added tokens as control ones).
Arrays TinyArrays(const Tokenizer& tok) {
  Arrays a;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    a.tokens.push_back(tok.Piece(id).value_or(""));
    a.bpe.token_type.push_back(id == tok.bos_id() || id == tok.eos_id() ? 3 : 1);
  }
  std::ifstream in(testing::RepoTestData("tiny/model/tokenizer.json"));
  std::stringstream text;
  text << in.rdbuf();
  // The merges array, lifted out with a plain scan (the test does not parse
  // JSON with the code under test's library): ["a", "b"] pairs.
  const std::string s = text.str();
  size_t at = s.find("\"merges\"");
  at = s.find('[', at);
  int depth = 0;
  std::string cur, left;
  bool in_string = false, escape = false, have_left = false;
  for (size_t i = at; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escape) { cur += c == 'n' ? '\n' : c; escape = false; }
      else if (c == '\\') escape = true;
      else if (c == '"') {
        in_string = false;
        if (!have_left) { left = cur; have_left = true; }
        else { a.bpe.merges.push_back(left + " " + cur); have_left = false; }
      } else cur += c;
      continue;
    }
    if (c == '"') { in_string = true; cur.clear(); }
    else if (c == '[') ++depth;
    else if (c == ']' && --depth == 0) break;
  }
  a.bpe.pre = "qwen2";
  return a;
}

TEST(ModelTokenizer, AGgufFilesOwnTokenizerTokenizesAsItsTokenizerJson) {
  auto want = LoadTokenizer(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(want.ok()) << want.status();
  auto ckpt = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const Arrays arrays = TinyArrays(**want);
  ASSERT_EQ(arrays.bpe.merges.size(), 126u);
  const std::string path = (testing::ScratchDir("model_tokenizer_gguf") / "tiny.gguf").string();
  testing::WriteGguf(**ckpt, path, [](const std::string&, int64_t, int64_t) { return GgmlType::kF32; },
                     "llama", arrays.tokens, &arrays.bpe);
  auto got = LoadModelTokenizer(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->vocab_size(), (*want)->vocab_size());
  int64_t texts = 0;
  for (const char* file : {"add", "recall", "reverse", "max"}) {
    auto task = tasks::ReadTaskJsonl(testing::RepoTestData(std::string("tiny/tasks/") + file + ".jsonl").string(), file);
    ASSERT_TRUE(task.ok()) << task.status();
    for (const tasks::McSample& s : task->samples)
      for (const std::string& text : {s.contexts[0], s.contexts[0] + s.continuations[0]}) {
        EXPECT_EQ((*got)->Encode(text), (*want)->Encode(text)) << text;
        ++texts;
      }
  }
  EXPECT_GT(texts, 1000);
}

TEST(ModelTokenizer, AGgufWithoutMergesIsOneErrorNamingIt) {
  auto ckpt = OpenCheckpoint("synthetic:tiny");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const std::string path = (testing::ScratchDir("model_tokenizer_bad") / "plain.gguf").string();
  testing::WriteGguf(**ckpt, path, [](const std::string&, int64_t, int64_t) { return GgmlType::kF32; });
  auto tok = LoadModelTokenizer(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(tok.status().message(), HasSubstr("plain.gguf: its tokenizer holds no merges"));
}

// A GGUF file with a SentencePiece vocabulary of the tiny model's size
// (unknown, BOS, EOS, the 256 byte pieces, then words and letters): its
// arrays and keys read back into the tokenizer that GgufSentencePieceModel
// builds from them, the file's add_space_prefix included.
TEST(ModelTokenizer, AGgufFilesSentencePieceTokenizerIsRebuilt) {
  auto ckpt = OpenCheckpoint(testing::RepoTestData("tiny/model").string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t n = (*ckpt)->config().vocab_size;
  GgufTokenizerInfo info;
  info.model = "llama";
  testing::GgufSpmArrays spm;
  auto add = [&](const std::string& piece, int type) {
    info.tokens.push_back(piece);
    info.token_type.push_back(type);
    info.scores.push_back(-static_cast<float>(info.tokens.size()));
  };
  add("<unk>", 2), add("<s>", 3), add("</s>", 3);
  for (int b = 0; b < 256; ++b) add(absl::StrFormat("<0x%02X>", b), 6);
  const std::string space = "\xe2\x96\x81";
  for (const char* w : {"the", "he", "th", "in", "an", "er", "on", "re", "at", "en"}) add(w, 1), add(space + w, 1);
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c), 1), add(space + std::string(1, c), 1);
  add(space, 1);
  for (int i = 0; static_cast<int64_t>(info.tokens.size()) < n; ++i) add(absl::StrFormat("w%d", i), 1);
  ASSERT_EQ(static_cast<int64_t>(info.tokens.size()), n);
  spm.scores = info.scores, spm.token_type = info.token_type, spm.add_space_prefix = false;
  info.unk_id = 0, info.bos_id = 1, info.eos_id = 2, info.add_space_prefix = false;
  const std::string path = (testing::ScratchDir("model_tokenizer_spm") / "tiny.gguf").string();
  testing::WriteGguf(**ckpt, path, [](const std::string&, int64_t, int64_t) { return GgmlType::kF32; }, "llama",
                     info.tokens, nullptr, &spm);
  auto got = LoadModelTokenizer(path);
  ASSERT_TRUE(got.ok()) << got.status();
  auto model = GgufSentencePieceModel(info, "arrays");
  ASSERT_TRUE(model.ok()) << model.status();
  auto want = SentencePieceTokenizer::FromSerialized(*model, "arrays");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ((*got)->vocab_size(), n);
  EXPECT_EQ((*got)->bos_id(), 1);
  EXPECT_EQ((*got)->eos_id(), 2);
  for (const std::string text : {"the cat ran", "in an ant", "zebra!\x01", "naïve", "  two spaces"}) {
    EXPECT_EQ((*got)->Encode(text), (*want)->Encode(text)) << text;
    EXPECT_EQ((*got)->Decode((*got)->Encode(text)), text) << text;
  }
  // No space before the text: the first word starts without ▁.
  EXPECT_EQ((*got)->Piece((*got)->Encode("the cat")[0]), "the");
}

}  // namespace
}  // namespace qsweep
