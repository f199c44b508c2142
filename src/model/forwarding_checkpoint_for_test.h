// A checkpoint that reads through another, for tests that change one part
// of a reader: it forwards the config, the tensors, the id and ReadSlice,
// and leaves every other read to Checkpoint's defaults (which go through
// ReadSlice), so a test overrides only what it changes.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/checkpoint.h"

namespace qsweep::testing {

class ForwardingCheckpoint : public Checkpoint {
 public:
  explicit ForwardingCheckpoint(std::unique_ptr<Checkpoint> inner) : inner_(std::move(inner)) {}
  const std::string& source() const override { return inner_->source(); }
  const ModelConfig& config() const override { return inner_->config(); }
  const std::vector<TensorInfo>& tensors() const override { return inner_->tensors(); }
  std::string content_id() const override { return inner_->content_id(); }
  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override {
    return inner_->ReadSlice(name, axis, begin, end, out);
  }

 protected:
  const Checkpoint& inner() const { return *inner_; }

 private:
  std::unique_ptr<Checkpoint> inner_;
};

}  // namespace qsweep::testing
