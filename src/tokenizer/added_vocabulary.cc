#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/status_macros.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep {
namespace {

UnicodeRegex CompileOrDie(const char* pattern) {
  auto re = UnicodeRegex::Compile(pattern);
  QSWEEP_CHECK(re.ok());
  return *std::move(re);
}

// Start of the character that ends at byte `end` (exclusive).
size_t PreviousCharStart(std::string_view text, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)),
      word_char_(CompileOrDie(R"([\p{Alphabetic}\p{N}_])")),
      whitespace_(CompileOrDie(R"(\p{White_Space})")) {
  for (auto& table : by_first_byte_) table.resize(256);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    index_by_id_.emplace(t.id, i);
    if (t.content.empty()) continue;
    by_first_byte_[t.normalized ? 1 : 0][static_cast<unsigned char>(t.content[0])].push_back(
        static_cast<int>(i));
  }
  // Longest first; equal lengths keep their order, so the first listed wins.
  for (auto& table : by_first_byte_) {
    for (auto& list : table) {
      std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
        return tokens_[a].content.size() > tokens_[b].content.size();
      });
    }
  }
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  for (const AddedToken& t : tokens_) {
    if (t.content == content) return &t;
  }
  return nullptr;
}

bool AddedVocabulary::IsWordCharacter(std::string_view text, size_t pos) const {
  return word_char_.MatchesAt(text, pos);
}

bool AddedVocabulary::IsWhitespace(std::string_view text, size_t pos) const {
  return whitespace_.MatchesAt(text, pos);
}

void AddedVocabulary::FindMatches(std::string_view text, bool normalized,
                                  std::vector<TextSegment>* out) const {
  const auto& table = by_first_byte_[normalized ? 1 : 0];
  size_t segment_start = 0;  // HF's start_offset
  size_t pos = 0;
  while (pos < text.size()) {
    // The longest token starting here, if any.
    const AddedToken* token = nullptr;
    for (int index : table[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[index];
      if (text.substr(pos, t.content.size()) == t.content) {
        token = &t;
        break;
      }
    }
    if (token == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + token->content.size();
    pos = stop;  // the automaton goes on after the match, whatever we make of it
    if (token->single_word) {
      const bool space_before = start == 0 || !IsWordCharacter(text, PreviousCharStart(text, start));
      const bool space_after = stop == text.size() || !IsWordCharacter(text, stop);
      if (!space_before || !space_after) continue;
    }
    if (token->lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        const size_t prev = PreviousCharStart(text, new_start);
        if (!IsWhitespace(text, prev)) break;
        new_start = prev;
      }
      start = std::max(new_start, segment_start);
    }
    if (token->rstrip) {
      while (stop < text.size() && IsWhitespace(text, stop)) stop += Utf8CharLength(text, stop);
    }
    if (segment_start < start) {
      out->push_back({text.substr(segment_start, start - segment_start), -1});
    }
    out->push_back({text.substr(start, stop - start), token->id});
    segment_start = stop;
  }
  if (segment_start < text.size()) out->push_back({text.substr(segment_start), -1});
}

std::vector<TextSegment> AddedVocabulary::Split(std::string_view text) const {
  std::vector<TextSegment> raw;
  FindMatches(text, /*normalized=*/false, &raw);
  // The normalizer is the identity here (others are refused at load time), so
  // normalized tokens are matched on the same bytes.
  std::vector<TextSegment> out;
  for (const TextSegment& s : raw) {
    if (s.added_id >= 0) {
      out.push_back(s);
    } else {
      FindMatches(s.text, /*normalized=*/true, &out);
    }
  }
  return out;
}

}  // namespace qsweep
