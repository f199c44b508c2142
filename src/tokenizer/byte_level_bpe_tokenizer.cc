#include "tokenizer/byte_level_bpe_tokenizer.h"

#include <climits>
#include <cstdint>
#include <stdexcept>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "tokenizer/byte_level_alphabet.h"
#include "tokenizer/utf8_repair.h"
#include "core/input_file.h"

namespace qsweep {
namespace {

using nlohmann::json;

// A token id: an integer in [0, 2^31). nlohmann converts a float or a huge
// number to int32 with undefined behaviour, so the type is checked first;
// FromJson turns the exception into the file's error.
int32_t TokenId(const json& v) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX))
    throw std::invalid_argument("token id " + v.dump() + " is not an integer in [0, 2^31)");
  return static_cast<int32_t>(v.get<uint64_t>());
}

using nlohmann::json;

// GPT-2's pattern, which HF's ByteLevel pre-tokenizer applies when use_regex.
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

absl::Status Unsupported(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: unsupported %s", source, what));
}

std::string TypeOf(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return j.dump();
}

bool BoolOr(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<bool>();
}

std::optional<std::string> StringOrNull(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

absl::Status CheckNormalizer(const json& root, const std::string& source) {
  auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) return absl::OkStatus();
  // An empty Sequence is the identity as well.
  if (TypeOf(*it) == "Sequence" && it->value("normalizers", json::array()).empty()) {
    return absl::OkStatus();
  }
  // NFC and friends need Unicode composition tables this build does not have;
  // refusing beats encoding differently from HF on non-NFC input.
  return Unsupported(source, absl::StrFormat("normalizer %s (only null is supported)", TypeOf(*it)));
}

absl::Status CheckDecoder(const json& root, const std::string& source) {
  auto it = root.find("decoder");
  if (it == root.end() || it->is_null() || TypeOf(*it) == "ByteLevel") return absl::OkStatus();
  return Unsupported(source, absl::StrFormat("decoder %s (only ByteLevel is supported)", TypeOf(*it)));
}

absl::StatusOr<BpeModel::Merges> ReadMerges(const json& model, const std::string& source) {
  BpeModel::Merges merges;
  auto it = model.find("merges");
  if (it == model.end() || it->is_null()) return merges;
  for (const json& m : *it) {
    if (m.is_string()) {  // legacy "a b"
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: merge \"%s\" is not two tokens separated by a space", source, s));
      }
      merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2) {  // ["a", "b"]
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return absl::InvalidArgumentError(absl::StrFormat("%s: bad merge %s", source, m.dump()));
    }
  }
  return merges;
}

absl::StatusOr<std::unique_ptr<BpeModel>> ReadModel(const json& root, const std::string& source) {
  auto it = root.find("model");
  if (it == root.end() || !it->is_object()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: no \"model\" object", source));
  }
  const json& model = *it;
  if (model.contains("type") && TypeOf(model) != "BPE") {
    return Unsupported(source, absl::StrFormat("model type %s (only BPE is supported)", TypeOf(model)));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: model has no \"vocab\" object", source));
  }
  if (auto d = model.find("dropout"); d != model.end() && !d->is_null() && d->get<double>() != 0.0) {
    return Unsupported(source, "BPE dropout (encodings would be random)");
  }
  BpeModel::Vocab vocab;
  for (const auto& [token, id] : model["vocab"].items()) vocab[token] = TokenId(id);
  QSWEEP_ASSIGN_OR_RETURN(BpeModel::Merges merges, ReadMerges(model, source));
  BpeOptions options;
  options.unk_token = StringOrNull(model, "unk_token");
  options.fuse_unk = BoolOr(model, "fuse_unk", false);
  options.byte_fallback = BoolOr(model, "byte_fallback", false);
  options.ignore_merges = BoolOr(model, "ignore_merges", false);
  options.continuing_subword_prefix = StringOrNull(model, "continuing_subword_prefix").value_or("");
  options.end_of_word_suffix = StringOrNull(model, "end_of_word_suffix").value_or("");
  auto bpe = BpeModel::Create(std::move(vocab), merges, std::move(options));
  if (!bpe.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", source, bpe.status().message()));
  }
  return bpe;
}

std::vector<AddedToken> ReadAddedTokens(const json& root) {
  std::vector<AddedToken> tokens;
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return tokens;
  for (const json& t : *it) {
    AddedToken a;
    a.content = t.at("content").get<std::string>();
    a.id = TokenId(t.at("id"));
    a.special = BoolOr(t, "special", false);
    a.lstrip = BoolOr(t, "lstrip", false);
    a.rstrip = BoolOr(t, "rstrip", false);
    a.single_word = BoolOr(t, "single_word", false);
    a.normalized = BoolOr(t, "normalized", !a.special);
    tokens.push_back(std::move(a));
  }
  return tokens;
}

// The ids the TemplateProcessing post-processor puts before and after the
// text of a single sequence (searched inside a Sequence of processors too).
void TemplateSpecials(const json& processor, std::optional<int32_t>* bos,
                      std::optional<int32_t>* eos) {
  if (!processor.is_object()) return;
  if (TypeOf(processor) == "Sequence") {
    for (const json& p : processor.value("processors", json::array())) TemplateSpecials(p, bos, eos);
    return;
  }
  if (TypeOf(processor) != "TemplateProcessing") return;
  const json specials = processor.value("special_tokens", json::object());
  bool seen_sequence = false;
  for (const json& piece : processor.value("single", json::array())) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!piece.contains("SpecialToken")) continue;
    const std::string name = piece["SpecialToken"].value("id", "");
    if (!specials.contains(name) || specials[name].value("ids", json::array()).empty()) continue;
    const int32_t id = TokenId(specials[name]["ids"][0]);
    if (!seen_sequence && !bos->has_value()) *bos = id;
    if (seen_sequence && !eos->has_value()) *eos = id;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> ByteLevelBpeTokenizer::FromFile(
    const std::string& path) {
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "the tokenizer"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open tokenizer file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrFormat("%s: read error", path));
  return FromJson(buffer.str(), path);
}

absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> ByteLevelBpeTokenizer::FromJson(
    std::string_view text, const std::string& source) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // the parser's line, column and reason
    return absl::InvalidArgumentError(absl::StrFormat("%s: not valid JSON: %s", source, e.what()));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: not a tokenizer.json (not a JSON object)", source));
  }
  try {
    QSWEEP_RETURN_IF_ERROR(CheckNormalizer(root, source));
    QSWEEP_RETURN_IF_ERROR(CheckDecoder(root, source));

    // Pre-tokenizer: Split(regex, Isolated)* then ByteLevel, alone or in a Sequence.
    const json pre = root.value("pre_tokenizer", json());
    std::vector<json> steps;
    if (TypeOf(pre) == "Sequence") {
      for (const json& p : pre.value("pretokenizers", json::array())) steps.push_back(p);
    } else if (!pre.is_null()) {
      steps.push_back(pre);
    }
    if (steps.empty() || TypeOf(steps.back()) != "ByteLevel") {
      return Unsupported(source, "pre_tokenizer: a byte-level BPE needs ByteLevel as its last step");
    }
    std::vector<UnicodeRegex> splits;
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
      const json& s = steps[i];
      if (TypeOf(s) != "Split") {
        return Unsupported(source, absl::StrFormat("pre_tokenizer %s", TypeOf(s)));
      }
      const json pattern = s.value("pattern", json::object());
      if (!pattern.contains("Regex")) {
        return Unsupported(source, absl::StrFormat("Split pattern %s (only Regex)", pattern.dump()));
      }
      if (s.value("behavior", "") != "Isolated" || s.value("invert", false)) {
        return Unsupported(source, absl::StrFormat("Split behavior %s invert %s (only Isolated, false)",
                                                   s.value("behavior", ""), s.value("invert", false) ? "true" : "false"));
      }
      auto re = UnicodeRegex::Compile(pattern["Regex"].get<std::string>());
      if (!re.ok()) {
        return absl::InvalidArgumentError(absl::StrFormat("%s: %s", source, re.status().message()));
      }
      splits.push_back(*std::move(re));
    }
    ByteLevelStep byte_level;
    byte_level.add_prefix_space = BoolOr(steps.back(), "add_prefix_space", false);
    if (BoolOr(steps.back(), "use_regex", true)) {
      auto re = UnicodeRegex::Compile(kGpt2Pattern);
      QSWEEP_CHECK(re.ok());
      byte_level.regex = *std::move(re);
    }

    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<BpeModel> model, ReadModel(root, source));
    AddedVocabulary added(ReadAddedTokens(root));

    std::unique_ptr<ByteLevelBpeTokenizer> tok(new ByteLevelBpeTokenizer(
        std::move(model), std::move(added), std::move(splits), std::move(byte_level)));
    int32_t max_id = tok->model_->max_id();
    for (const AddedToken& t : tok->added_.tokens()) max_id = std::max(max_id, t.id);
    tok->vocab_size_ = static_cast<int64_t>(max_id) + 1;

    std::optional<int32_t> bos, eos;
    TemplateSpecials(root.value("post_processor", json()), &bos, &eos);
    auto first_known = [&](std::initializer_list<const char*> names) -> std::optional<int32_t> {
      for (const char* name : names) {
        if (const AddedToken* t = tok->added_.FindByContent(name)) return t->id;
        if (auto id = tok->model_->TokenToId(name)) return id;
      }
      return std::nullopt;
    };
    if (!bos) bos = first_known({"<|begin_of_text|>", "<s>"});
    if (!eos) eos = first_known({"<|end_of_text|>", "</s>", "<|endoftext|>"});
    tok->bos_id_ = bos.value_or(-1);
    tok->eos_id_ = eos.value_or(-1);
    return tok;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: malformed tokenizer.json: %s", source, e.what()));
  } catch (const std::invalid_argument& e) {  // TokenId
    return absl::InvalidArgumentError(absl::StrFormat("%s: malformed tokenizer.json: %s", source, e.what()));
  }
}

std::optional<int32_t> ByteLevelBpeTokenizer::TokenToId(std::string_view token) const {
  if (const AddedToken* t = added_.FindByContent(token)) return t->id;
  return model_->TokenToId(token);
}

void ByteLevelBpeTokenizer::EncodeSegment(std::string_view segment,
                                          std::vector<int32_t>* ids) const {
  std::vector<std::string_view> pieces = {segment};
  std::vector<std::string_view> next;
  for (const UnicodeRegex& re : splits_) {
    next.clear();
    for (std::string_view p : pieces) SplitIsolated(re, p, &next);
    pieces.swap(next);
  }
  std::string prefixed;
  std::vector<std::string_view> words;
  for (std::string_view p : pieces) {
    if (byte_level_.add_prefix_space && (p.empty() || p[0] != ' ')) {
      prefixed = " " + std::string(p);
      p = prefixed;
    }
    words.clear();
    if (byte_level_.regex) {
      SplitIsolated(*byte_level_.regex, p, &words);
    } else if (!p.empty()) {
      words.push_back(p);
    }
    for (std::string_view w : words) model_->Tokenize(ByteLevelEncode(w), ids);
  }
}

std::vector<int32_t> ByteLevelBpeTokenizer::Encode(std::string_view text) const {
  const std::string valid = RepairUtf8(text);
  std::vector<int32_t> ids;
  for (const TextSegment& s : added_.Split(valid)) {
    if (s.added_id >= 0) {
      ids.push_back(s.added_id);
    } else {
      EncodeSegment(s.text, &ids);
    }
  }
  return ids;
}

std::string ByteLevelBpeTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (const AddedToken* t = added_.FindById(id)) {
      bytes += t->content;
      continue;
    }
    const std::string* token = model_->IdToToken(id);
    if (token == nullptr) continue;  // HF skips ids it does not know
    // HF's ByteLevel decoder keeps a token with a character outside the byte
    // alphabet as its UTF-8 text.
    std::optional<std::string> decoded = ByteLevelDecode(*token);
    bytes += decoded ? *decoded : *token;
  }
  return RepairUtf8(bytes);
}

std::optional<std::string> ByteLevelBpeTokenizer::Piece(int32_t id) const {
  for (const AddedToken& t : added_.tokens())
    if (t.id == id) return t.content;
  if (const std::string* token = model_->IdToToken(id)) return *token;
  return std::nullopt;
}

}  // namespace qsweep
