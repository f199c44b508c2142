#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "tokenizer/utf8_repair.h"

namespace qsweep {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// One symbol of a word being merged; a doubly linked list over a vector as in
// HF's Word, so merges never move memory. len == 0 marks a merged-away symbol.
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  int32_t len;
};

struct QueuedMerge {
  int32_t pos;
  int32_t rank;
  int32_t new_id;
};

// Top of the queue is the lowest rank, then the leftmost position.
struct LaterMerge {
  bool operator()(const QueuedMerge& a, const QueuedMerge& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.pos > b.pos;
  }
};

void AddSymbol(std::vector<Symbol>* symbols, int32_t id, int32_t len) {
  const auto n = static_cast<int32_t>(symbols->size());
  if (n > 0) (*symbols)[n - 1].next = n;
  symbols->push_back({id, n - 1, -1, len});
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(Vocab vocab, const Merges& merges,
                                                           BpeOptions options) {
  std::unique_ptr<BpeModel> model(new BpeModel);
  model->vocab_ = std::move(vocab);
  model->options_ = std::move(options);
  for (const auto& [token, id] : model->vocab_) {
    model->vocab_r_[id] = token;
    model->max_id_ = std::max(model->max_id_, id);
  }
  if (model->options_.unk_token) {
    auto it = model->vocab_.find(*model->options_.unk_token);
    if (it == model->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("unk_token \"%s\" is not in the vocab", *model->options_.unk_token));
    }
    model->unk_id_ = it->second;
  }
  const size_t prefix_len = model->options_.continuing_subword_prefix.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = model->vocab_.find(a);
    auto ib = model->vocab_.find(b);
    if (ia == model->vocab_.end() || ib == model->vocab_.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "merge %d (\"%s\" \"%s\") names a token that is not in the vocab", rank, a, b));
    }
    // The right part loses its continuing-subword prefix when joined.
    const std::string joined =
        a + (prefix_len > 0 && b.compare(0, prefix_len, model->options_.continuing_subword_prefix) == 0
                 ? b.substr(prefix_len)
                 : b);
    auto ij = model->vocab_.find(joined);
    if (ij == model->vocab_.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "merge %d (\"%s\" \"%s\") makes \"%s\", which is not in the vocab", rank, a, b, joined));
    }
    // A repeated merge keeps its last rank, as HF's map construction does.
    model->merges_[PairKey(ia->second, ib->second)] = {static_cast<int32_t>(rank), ij->second};
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(AbslView(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  auto it = vocab_r_.find(id);
  return it == vocab_r_.end() ? nullptr : &it->second;
}

std::vector<int32_t> BpeModel::MergeWord(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  // A pending unknown run: (id, bytes). HF adds it only when the next known
  // symbol (or the end) comes, after any byte-fallback symbols in between.
  int32_t unk_id = -1;
  int32_t unk_len = 0;
  std::string s;
  for (size_t i = 0; i < word.size();) {
    const size_t len = Utf8CharLength(word, i);
    const bool first = i == 0;
    const bool last = i + len >= word.size();
    s.clear();
    if (!first) s += options_.continuing_subword_prefix;
    s.append(word.substr(i, len));
    if (last) s += options_.end_of_word_suffix;
    const std::string_view ch = word.substr(i, len);
    i += len;

    if (auto it = vocab_.find(s); it != vocab_.end()) {
      if (unk_id >= 0) {
        AddSymbol(&symbols, unk_id, unk_len);
        unk_id = -1;
      }
      AddSymbol(&symbols, it->second, static_cast<int32_t>(len));
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (unsigned char byte : s) {
        auto it = vocab_.find(absl::StrFormat("<0x%02X>", byte));
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == s.size()) {
        for (int32_t id : bytes) AddSymbol(&symbols, id, 1);
        continue;
      }
    }
    if (unk_id_) {
      const auto n = static_cast<int32_t>(ch.size());
      if (unk_id >= 0 && options_.fuse_unk) {
        unk_len += n;
      } else {
        if (unk_id >= 0) AddSymbol(&symbols, unk_id, unk_len);
        unk_id = *unk_id_;
        unk_len = n;
      }
    }
    // Without an unk token HF drops the character.
  }
  if (unk_id >= 0) AddSymbol(&symbols, unk_id, unk_len);

  std::priority_queue<QueuedMerge, std::vector<QueuedMerge>, LaterMerge> queue;
  auto find_merge = [&](int32_t a, int32_t b) -> const Merge* {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (size_t p = 0; p + 1 < symbols.size(); ++p) {
    if (const Merge* m = find_merge(symbols[p].id, symbols[p + 1].id)) {
      queue.push({static_cast<int32_t>(p), m->rank, m->new_id});
    }
  }
  while (!queue.empty()) {
    const QueuedMerge top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const Symbol right = symbols[cur.next];
    // Skip entries made stale by an earlier merge of one of the two symbols.
    const Merge* still = find_merge(cur.id, right.id);
    if (still == nullptr || still->new_id != top.new_id) continue;

    symbols[cur.next].len = 0;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* m = find_merge(symbols[cur.prev].id, cur.id)) {
        queue.push({cur.prev, m->rank, m->new_id});
      }
    }
    if (cur.next >= 0) {
      if (const Merge* m = find_merge(cur.id, symbols[cur.next].id)) {
        queue.push({top.pos, m->rank, m->new_id});
      }
    }
  }
  std::vector<int32_t> ids;
  for (const Symbol& sym : symbols) {
    if (sym.len != 0) ids.push_back(sym.id);
  }
  return ids;
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (auto it = vocab_.find(AbslView(word)); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    absl::MutexLock lock(&cache_mu_);
    if (auto it = cache_.find(AbslView(word)); it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids = MergeWord(word);
  ids->insert(ids->end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::move(word_ids));
  }
}

}  // namespace qsweep
