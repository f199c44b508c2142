// A checkpoint's content id computed on first use rather than at open:
// the id of a large checkpoint reads every weight byte (or the digest
// cache), and many opens never ask for it (`prepare`'s vocabulary check,
// `inspect` of the config). Thread-safe; computed at most once.
#pragma once
#include <functional>
#include <mutex>
#include <string>
#include <utility>

namespace qsweep {

class LazyContentId {
 public:
  // The reader sets one of these while it opens the checkpoint.
  void Set(std::string id) { id_ = std::move(id); }
  void Defer(std::function<std::string()> compute) { compute_ = std::move(compute); }

  const std::string& Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (compute_) {
      id_ = compute_();
      compute_ = nullptr;
    }
    return id_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::function<std::string()> compute_;
  mutable std::string id_;
};

}  // namespace qsweep
