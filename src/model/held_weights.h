// A model's dense projection weights kept on a backend's device across the
// schemes of a sweep, so that each round-to-nearest scheme is quantized
// there from them (Backend::QuantizeLinearParts) instead of being read and
// quantized on the host again. The first Decoder::Load given an empty store
// fills it as it loads; later loads of the same checkpoint take from it.
// Only bf16 tensors are held: their copy at bf16 is exactly the checkpoint's
// values, so a scheme derived from it equals one loaded from the file.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/backend.h"

namespace qsweep {

class Checkpoint;

class HeldWeights {
 public:
  explicit HeldWeights(const Checkpoint* source) : source_(source) {}
  // The checkpoint whose values these are: loads of another ignore the store.
  const Checkpoint* source() const { return source_; }
  // The held parts of tensor `name` (canonical name; this rank's column
  // parts, in order), or none.
  std::span<const std::unique_ptr<Linear>> Find(std::string_view name) const {
    auto it = parts_.find(name);
    if (it == parts_.end()) return {};
    return it->second;
  }
  void Put(std::string name, std::vector<std::unique_ptr<Linear>> parts) {
    parts_[std::move(name)] = std::move(parts);
  }
  int64_t tensors() const { return static_cast<int64_t>(parts_.size()); }

 private:
  const Checkpoint* source_;
  std::map<std::string, std::vector<std::unique_ptr<Linear>>, std::less<>> parts_;
};

}  // namespace qsweep
