#include "eval/requests.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_format.h"
#include "core/byte_buffer.h"

namespace qsweep {
namespace {

// FNV-1a over 64-bit words, with lengths mixed in so that boundaries count.
class Hasher {
 public:
  void Add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (8 * i)) & 0xff;
      h_ *= 0x100000001b3ull;
    }
  }
  void Add(const std::string& s) {
    Add(s.size());
    for (unsigned char c : s) Add(c);
  }
  template <typename T>
  void Add(const std::vector<T>& v) {
    Add(v.size());
    for (const T& x : v) Add(static_cast<uint64_t>(x));
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace

int64_t McTaskRequests::max_choices() const {
  int64_t m = 0;
  for (const auto& s : samples) m = std::max(m, s.choices());
  return m;
}

int32_t GenTaskRequests::max_tokens() const {
  int32_t m = 0;
  for (const auto& s : samples) m = std::max(m, s.sample.max_tokens);
  return m;
}

int64_t GenTaskRequests::max_prompt() const {
  int64_t m = 0;
  for (const auto& s : samples) m = std::max<int64_t>(m, static_cast<int64_t>(s.prompt.size()));
  return m;
}

std::vector<uint8_t> EncodeGenSamples(const GenTaskRequests& task) {
  ByteWriter w;
  w.Put<uint64_t>(task.samples.size());
  for (const GenSampleRequest& r : task.samples) {
    const tasks::GenSample& s = r.sample;
    w.PutString(s.id);
    w.PutString(s.prompt);
    w.Put<uint64_t>(s.answers.size());
    for (const std::string& a : s.answers) w.PutString(a);
    w.Put<uint8_t>(s.scorer.kind == tasks::AnswerScorer::Kind::kRegex);
    w.PutString(s.scorer.pattern);
    w.Put<uint8_t>(s.scorer.last_match);
    w.Put<uint64_t>(s.stop.size());
    for (const std::string& a : s.stop) w.PutString(a);
    w.Put<int32_t>(s.max_tokens);
  }
  return std::move(w.bytes());
}

absl::Status DecodeGenSamples(const std::vector<uint8_t>& bytes, GenTaskRequests& task) {
  ByteReader r = ByteReader::Untrusted(bytes);
  const uint64_t n = r.Get<uint64_t>();
  if (!r.ok() || n != task.samples.size())
    return absl::DataLossError(absl::StrFormat("the samples' text holds %d samples, not %d", n, task.samples.size()));
  auto strings = [&](std::vector<std::string>& out) {
    const uint64_t k = r.Get<uint64_t>();
    for (uint64_t i = 0; i < k && r.ok(); ++i) out.push_back(r.GetString());
  };
  for (GenSampleRequest& q : task.samples) {
    tasks::GenSample& s = q.sample;
    s.id = r.GetString();
    s.prompt = r.GetString();
    strings(s.answers);
    s.scorer.kind = r.Get<uint8_t>() ? tasks::AnswerScorer::Kind::kRegex : tasks::AnswerScorer::Kind::kExact;
    s.scorer.pattern = r.GetString();
    s.scorer.last_match = r.Get<uint8_t>();
    strings(s.stop);
    s.max_tokens = r.Get<int32_t>();
    if (!r.ok()) break;
  }
  if (!r.ok() || !r.done()) return absl::DataLossError("the samples' text does not decode");
  for (const GenSampleRequest& q : task.samples)
    if (q.sample.max_tokens < 1 || q.sample.max_tokens > tasks::kMaxGenTokens || q.prompt.empty())
      return absl::DataLossError(absl::StrFormat("sample '%s': max_tokens %d, %d prompt tokens", q.sample.id,
                                                 q.sample.max_tokens, q.prompt.size()));
  return absl::OkStatus();
}

std::string RequestSet::ContentId() const {
  Hasher h;
  for (const auto& t : tasks) {
    h.Add(t.name);
    for (const auto& s : t.samples) {
      h.Add(static_cast<uint64_t>(s.sample_id));
      h.Add(static_cast<uint64_t>(s.label));
      h.Add(s.contexts.size());
      for (const auto& c : s.contexts) h.Add(c);
      for (const auto& c : s.continuations) h.Add(c);
      h.Add(s.continuation_bytes);
    }
  }
  for (const auto& t : gen_tasks) {
    h.Add(t.name);
    h.Add(t.samples.size());
    for (const auto& s : t.samples) h.Add(s.prompt);
    const std::vector<uint8_t> text = EncodeGenSamples(t);
    h.Add(text);
  }
  for (const auto& c : corpora) {
    h.Add(c.name);
    h.Add(c.tokens);
    h.Add(static_cast<uint64_t>(c.window));
    h.Add(static_cast<uint64_t>(c.stride));
  }
  return absl::StrFormat("%016x", h.value());
}

absl::Status CheckTokenIds(const RequestSet& r, int64_t vocab, std::string_view model) {
  auto outside = [vocab](const std::vector<int32_t>& ids) -> std::optional<int32_t> {
    for (const int32_t id : ids)
      if (id < 0 || id >= vocab) return id;
    return std::nullopt;
  };
  auto refuse = [&](const std::string& where, int32_t id) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s holds token id %d, outside the vocabulary of %s (%d ids): the requests were tokenized by %s, which is "
        "not this model's tokenizer", where, id, model, vocab, r.tokenizer.empty() ? "another tokenizer" : r.tokenizer));
  };
  for (const McTaskRequests& t : r.tasks)
    for (const McSampleRequest& s : t.samples) {
      for (const auto* part : {&s.contexts, &s.continuations})
        for (const std::vector<int32_t>& ids : *part)
          if (const auto id = outside(ids))
            return refuse(absl::StrFormat("task '%s' sample %d", t.name, s.sample_id), *id);
    }
  for (const PplCorpusRequests& c : r.corpora)
    if (const auto id = outside(c.tokens)) return refuse(absl::StrFormat("corpus '%s'", c.name), *id);
  for (const GenTaskRequests& t : r.gen_tasks)
    for (const GenSampleRequest& s : t.samples)
      if (const auto id = outside(s.prompt))
        return refuse(absl::StrFormat("task '%s' sample '%s'", t.name, s.sample.id), *id);
  return absl::OkStatus();
}

}  // namespace qsweep
