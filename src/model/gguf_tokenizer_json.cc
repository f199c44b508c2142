#include "model/gguf_tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace qsweep {
namespace {

using Json = nlohmann::ordered_json;

// llama.cpp's pre-tokenizer names and the Split pattern each stands for (as
// the models' tokenizer.json files hold them); an empty pattern is GPT-2's,
// which HF's ByteLevel step applies itself (use_regex).
struct PreTokenizer {
  const char* name;
  const char* pattern;
};
constexpr PreTokenizer kPreTokenizers[] = {
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"llama3", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"gpt2", ""},
    {"default", ""},
};

constexpr int32_t kControl = 3, kUserDefined = 4;

}  // namespace

absl::StatusOr<std::string> GgufTokenizerJson(const GgufTokenizerInfo& t, const std::string& source) {
  if (t.model != "gpt2")
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: its tokenizer is '%s'; qsweep builds byte-level BPE tokenizers (\"gpt2\") from a GGUF file: give the "
        "model's own tokenizer with `tokenizer:`", source, t.model));
  if (t.merges.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: its tokenizer holds no merges", source));
  const PreTokenizer* pre = nullptr;
  const std::string name = t.pre.empty() ? "default" : t.pre;
  std::vector<std::string> known;
  for (const PreTokenizer& p : kPreTokenizers) {
    known.push_back(p.name);
    if (name == p.name) pre = &p;
  }
  if (!pre)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: pre-tokenizer '%s' is not known here (%s): give the model's own tokenizer.json with `tokenizer:`",
        source, name, absl::StrJoin(known, ", ")));
  const int64_t n = static_cast<int64_t>(t.tokens.size());
  for (const int64_t id : {t.bos_id, t.eos_id})
    if (id >= n) return absl::InvalidArgumentError(absl::StrFormat("%s: BOS/EOS id %d of %d tokens", source, id, n));

  Json vocab = Json::object(), added = Json::array();
  for (int64_t id = 0; id < n; ++id) {
    const int32_t type = t.token_type.empty() ? 1 : t.token_type[id];
    if (type == kControl || type == kUserDefined)
      added.push_back({{"id", id}, {"content", t.tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", type == kUserDefined}, {"special", type == kControl}});
    if (!vocab.contains(t.tokens[id])) vocab[t.tokens[id]] = id;
  }
  Json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                     {"use_regex", std::string(pre->pattern).empty()}};
  Json pre_tokenizer = byte_level;
  if (!std::string(pre->pattern).empty())
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", Json::array({{{"type", "Split"},
                                                     {"pattern", {{"Regex", pre->pattern}}},
                                                     {"behavior", "Isolated"},
                                                     {"invert", false}},
                                                    byte_level})}};
  Json single = Json::array(), specials = Json::object();
  auto special = [&](int64_t id) {
    const std::string& content = t.tokens[id];
    single.push_back({{"SpecialToken", {{"id", content}, {"type_id", 0}}}});
    specials[content] = {{"id", content}, {"ids", Json::array({id})}, {"tokens", Json::array({content})}};
  };
  if (t.bos_id >= 0) special(t.bos_id);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (t.eos_id >= 0) special(t.eos_id);
  Json root = {{"version", "1.0"},
               {"added_tokens", added},
               {"normalizer", nullptr},
               {"pre_tokenizer", pre_tokenizer},
               {"post_processor", {{"type", "TemplateProcessing"}, {"single", single}, {"special_tokens", specials}}},
               {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
               {"model",
                {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", nullptr},
                 {"fuse_unk", false},
                 {"byte_fallback", false},
                 // llama.cpp's llama-bpe (Llama 3) takes a whole word that
                 // is in the vocabulary as it is, as HF's ignore_merges does.
                 {"ignore_merges", name == "llama-bpe" || name == "llama3"},
                 {"vocab", vocab},
                 {"merges", t.merges}}}};
  try {
    return root.dump();
  } catch (const Json::type_error& e) {  // a token that is not UTF-8
    return absl::InvalidArgumentError(absl::StrFormat("%s: its tokenizer does not convert: %s", source, e.what()));
  }
}

}  // namespace qsweep
