// A GGUF file written with the tiny model's tokenizer arrays (tokens,
// merges, token types, pre-tokenizer) tokenizes every task text of the tiny
// model exactly as its tokenizer.json does; a GGUF whose tokenizer cannot be
// rebuilt is one error naming the file.
#include "sweep/model_tokenizer.h"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/tasks/task.h"
#include "model/checkpoint.h"
#include "model/gguf_writer_for_test.h"
#include "test_paths.h"

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

}  // namespace
}  // namespace qsweep
