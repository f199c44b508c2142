// A Hugging Face tokenizer.json (byte-level BPE), then a round trip of text
// through whatever it accepted.
#include "fuzz_input.h"
#include "tokenizer/byte_level_bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = qsweep::ByteLevelBpeTokenizer::FromJson(qsweep::fuzz::Text(data, size), "tokenizer.json");
  if (t.ok()) {
    const std::vector<int32_t> ids = (*t)->Encode("Hello, world! 123 \xc3\xbc\xe2\x82\xac  tabs\tand\nlines");
    (void)(*t)->Decode(ids);
  }
  return 0;
}
