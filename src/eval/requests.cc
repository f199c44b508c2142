#include "eval/requests.h"

#include <algorithm>

#include "absl/strings/str_format.h"

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
  for (const auto& c : corpora) {
    h.Add(c.name);
    h.Add(c.tokens);
    h.Add(static_cast<uint64_t>(c.window));
    h.Add(static_cast<uint64_t>(c.stride));
  }
  return absl::StrFormat("%016x", h.value());
}

}  // namespace qsweep
