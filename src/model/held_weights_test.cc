// Schemes made from the held dense weights (held_weights.h) score as those
// read and quantized on the host, bit for bit, on the CPU backend's
// reference of device quantization (CpuBackend::QuantizeLinearParts). The
// GPU's twin of this test is CudaTest.SchemesFromTheHeldWeightsScoreAsLoadedOnes.
#include "model/held_weights.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/decoder.h"
#include "model/fixed_sequence_for_test.h"
#include "model/synthetic_checkpoint.h"
#include "quant/scheme.h"

namespace qsweep {
namespace {

using testing::ScoreFixedSequence;
using testing::ScoreFixedSequenceOn;

// The CPU backend with its reference quantizer taken as a device's, and a
// count of the layers it quantized.
class DeviceQuantizingCpu : public CpuBackend {
 public:
  bool QuantizesOnDevice(const WeightFormat& f) const override { return f.quantized() && f.act == ActKind::kNone; }
  absl::StatusOr<std::vector<std::unique_ptr<Linear>>> QuantizeLinearParts(
      std::string_view name, LinearRole role, std::span<const std::unique_ptr<Linear>> dense,
      const WeightFormat& format, const AwqTransform& transform = {}) override {
    ++quantized;
    return CpuBackend::QuantizeLinearParts(name, role, dense, format, transform);
  }
  int quantized = 0;
};

SchemeSpec S(const char* name) {
  auto s = ResolveScheme(name);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

std::unique_ptr<Checkpoint> Open(const std::string& name) {
  auto c = OpenSyntheticCheckpoint(name);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(HeldWeights, SchemesQuantizedFromTheHeldCopyScoreAsLoadedOnes) {
  const auto ckpt = Open("synthetic:tiny-llama3");
  const int64_t layers = ckpt->config().num_layers;
  for (const bool invariant : {true, false}) {
    HeldWeights held(ckpt.get());
    DeviceQuantizingCpu base_backend;
    const auto base =
        ScoreFixedSequenceOn(*ckpt, &base_backend, {.scheme = S("bf16"), .tp_invariant = invariant, .held = &held});
    EXPECT_EQ(held.tensors(), 7 * layers + 1);
    EXPECT_EQ(base_backend.quantized, 0);
    EXPECT_EQ(base.logprobs, ScoreFixedSequence(*ckpt, {.scheme = S("bf16"), .tp_invariant = invariant}).logprobs);
    for (const char* name : {"w4a16-g32", "w2a16-g16-asym", "w8a16", "nf4-g64", "fp4-g32", "t2a16-g16", "w1a16-g16",
                             "fp8a16", "w3a16-g128"}) {
      const std::string what = std::string(name) + (invariant ? "" : " (one part per rank)");
      DecoderOptions o{.scheme = S(name), .tp_invariant = invariant};
      const auto want = ScoreFixedSequence(*ckpt, o);
      ASSERT_FALSE(want.logprobs.empty()) << what;
      o.held = &held;
      DeviceQuantizingCpu from_held;
      EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &from_held, o).logprobs, want.logprobs) << what;
      EXPECT_GE(from_held.quantized, 5 * layers) << what;  // at least the column-parallel projections
      if (std::string(name) == "w8a16") {
        EXPECT_EQ(from_held.quantized, 7 * layers) << what;  // per channel, tp 1
      }
      o.held = nullptr;
      DeviceQuantizingCpu temporary;
      EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &temporary, o).logprobs, want.logprobs) << what << " without a store";
      EXPECT_EQ(temporary.quantized, from_held.quantized) << what;
      o.host_quantize = true;
      DeviceQuantizingCpu host;
      EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &host, o).logprobs, want.logprobs) << what << " on the host";
      EXPECT_EQ(host.quantized, 0) << what;
    }
    EXPECT_EQ(held.tensors(), 7 * layers + 1);
  }
}

// A quantized scheme that loads first fills the store; the baseline then
// takes its dense layers from it.
TEST(HeldWeights, AQuantizedSchemeFillsTheStore) {
  const auto ckpt = Open("synthetic:tiny-llama3");
  HeldWeights held(ckpt.get());
  DeviceQuantizingCpu first;
  const auto w4 = ScoreFixedSequenceOn(*ckpt, &first, {.scheme = S("w4a16-g32"), .held = &held});
  EXPECT_EQ(w4.logprobs, ScoreFixedSequence(*ckpt, {.scheme = S("w4a16-g32")}).logprobs);
  // Projections quantized on the host (o and down: their parts do not cut
  // on groups of 32) are not held.
  EXPECT_EQ(held.tensors(), 5 * ckpt->config().num_layers + 1);
  DeviceQuantizingCpu second;
  EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &second, {.scheme = S("bf16"), .held = &held}).logprobs,
            ScoreFixedSequence(*ckpt, {.scheme = S("bf16")}).logprobs);
  EXPECT_EQ(held.tensors(), 7 * ckpt->config().num_layers + 1);
}

// The noise-floor candidate (bf16 with the plain reduction, one part per
// row-parallel projection) beside tp-invariant schemes, whose held copy is
// in RowParallelParts: it reads its own o and down, and the store stays as
// the invariant schemes use it.
TEST(HeldWeights, TheOtherReductionsPartsAreReadNotHeld) {
  const auto ckpt = Open("synthetic:tiny-llama3");
  const int64_t layers = ckpt->config().num_layers;
  HeldWeights held(ckpt.get());
  DeviceQuantizingCpu base;
  ScoreFixedSequenceOn(*ckpt, &base, {.scheme = S("bf16"), .tp_invariant = true, .held = &held});
  const auto o_parts = held.Find("model.layers.0.self_attn.o_proj.weight").size();
  ASSERT_GT(o_parts, 1u);
  DeviceQuantizingCpu floor;
  EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &floor, {.scheme = S("bf16"), .tp_invariant = false, .held = &held}).logprobs,
            ScoreFixedSequence(*ckpt, {.scheme = S("bf16"), .tp_invariant = false}).logprobs);
  EXPECT_EQ(held.tensors(), 7 * layers + 1);
  EXPECT_EQ(held.Find("model.layers.0.self_attn.o_proj.weight").size(), o_parts);
  DeviceQuantizingCpu after;
  EXPECT_EQ(ScoreFixedSequenceOn(*ckpt, &after, {.scheme = S("w8a16"), .tp_invariant = true, .held = &held}).logprobs,
            ScoreFixedSequence(*ckpt, {.scheme = S("w8a16"), .tp_invariant = true}).logprobs);
}

// A store holds one checkpoint's values: a load of another reads its own.
TEST(HeldWeights, AnotherCheckpointIgnoresTheStore) {
  const auto ckpt = Open("synthetic:tiny-llama3"), other = Open("synthetic:tiny-llama3@7");
  HeldWeights held(ckpt.get());
  DeviceQuantizingCpu a;
  ScoreFixedSequenceOn(*ckpt, &a, {.scheme = S("bf16"), .held = &held});
  DeviceQuantizingCpu b;
  const auto got = ScoreFixedSequenceOn(*other, &b, {.scheme = S("w8a16"), .held = &held});
  EXPECT_EQ(got.logprobs, ScoreFixedSequence(*other, {.scheme = S("w8a16")}).logprobs);
  EXPECT_NE(got.logprobs, ScoreFixedSequence(*ckpt, {.scheme = S("w8a16")}).logprobs);
}

}  // namespace
}  // namespace qsweep
