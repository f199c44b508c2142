// Calibrated loading (Decoder::Calibrate) on the embedded tiny model: GPTQ
// calibrated on text of the training distribution is closer to the fp32
// model than RTN on held-out text; the Hessians come from inputs through the
// already-quantized layers (true-sequential); results repeat bit for bit;
// bad calibration input is refused.
#include <cmath>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "core/dtype.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "model/tiny_calibration_for_test.h"
#include "scheme_for_test.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {
namespace {

using testing::RepoTestData;

std::string TinyModel() { return RepoTestData("tiny/model").string(); }

std::unique_ptr<Decoder> Load(const Checkpoint& ckpt, CpuBackend* backend, const std::string& scheme,
                              const CalibrationSet* calib) {
  auto d = Decoder::Load(ckpt, backend, {.scheme = TestScheme(scheme), .max_batch_tokens = 1024, .calibration = calib});
  EXPECT_TRUE(d.ok()) << scheme << ": " << d.status();
  return d.ok() ? std::move(*d) : nullptr;
}

RowScores LogProbs(Decoder& d, const std::vector<std::vector<int32_t>>& seqs) {
  TokenBatch batch;
  for (const auto& s : seqs) batch.AddSequence(s);
  std::vector<int64_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> targets(batch.tokens.begin(), batch.tokens.end());
  std::vector<LogitStats> stats;
  EXPECT_TRUE(d.Forward(batch, rows, targets, 4, true, &stats).ok());
  return CombineLogitStats(stats, 4, true);
}

// Mean over rows of KL(p || q), nats.
double MeanKl(const RowScores& p, const RowScores& q, int64_t vocab) {
  double total = 0;
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t j = 0; j < vocab; ++j) {
      const double lp = p.logprobs[r * vocab + j], lq = q.logprobs[r * vocab + j];
      total += std::exp(lp) * (lp - lq);
    }
  return total / p.rows;
}

TEST(Calibration, GptqIsCloserToFp32ThanRtnOnHeldOutText) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  const CalibrationSet calib = TinyCalibration();
  const auto heldout = Windows("tiny/tasks/heldout.txt", 8, 128);
  CpuBackend backend;
  auto fp32 = Load(**ckpt, &backend, "fp32", nullptr);
  const RowScores ref = LogProbs(*fp32, heldout);
  for (const char* rtn : {"w4a16-g128", "w3a16-g64", "w3a16-asym"}) {
    const RowScores r = LogProbs(*Load(**ckpt, &backend, rtn, nullptr), heldout);
    const double kl_rtn = MeanKl(ref, r, vocab);
    for (const char* method : {"gptq", "gptq-act"}) {
      const std::string scheme = std::string(rtn) + "-" + method;
      auto d = Load(**ckpt, &backend, scheme, &calib);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(d->calibration_report().tensors.size(), 7u * (*ckpt)->config().num_layers);
      const double kl = MeanKl(ref, LogProbs(*d, heldout), vocab);
      EXPECT_LT(kl, kl_rtn) << scheme;
      std::printf("%-22s KL %.5f nats/token  (RTN %.5f)\n", scheme.c_str(), kl, kl_rtn);
    }
  }
}

TEST(Calibration, HessiansComeThroughTheQuantizedLayers) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const ModelConfig& c = (*ckpt)->config();
  const CalibrationSet calib = TinyCalibration(8, 64);
  CpuBackend backend;
  auto w8 = Load(**ckpt, &backend, "w8a16-gptq", &calib);
  auto w2 = Load(**ckpt, &backend, "w2a16-g32-gptq", &calib);
  const auto& a = w8->calibration_report().tensors;
  const auto& b = w2->calibration_report().tensors;
  ASSERT_EQ(a.size(), 7u * c.num_layers);
  ASSERT_EQ(b.size(), a.size());
  const std::vector<std::string> order = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                          "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                          "mlp.gate_proj.weight",    "mlp.up_proj.weight",
                                          "mlp.down_proj.weight"};
  for (size_t t = 0; t < a.size(); ++t) {
    EXPECT_EQ(a[t].name, LayerTensorName(t / 7, order[t % 7]));
    EXPECT_EQ(a[t].tokens, calib.tokens());
    EXPECT_EQ(a[t].damp_used, 0.01);
  }
  // Layer 0's q k v inputs do not depend on any quantized weight: the same
  // Hessian under both schemes, and its trace is 2/n Σ ‖RMSNorm(embedding)‖²
  // computed here from the checkpoint (the embedding rounded to bf16).
  for (int t = 0; t < 3; ++t) EXPECT_EQ(a[t].hessian_trace, b[t].hessian_trace);
  auto emb = (*ckpt)->ReadAll("model.embed_tokens.weight");
  auto norm = (*ckpt)->ReadAll(LayerTensorName(0, "input_layernorm.weight"));
  ASSERT_TRUE(emb.ok() && norm.ok());
  double trace = 0;
  const int64_t dm = c.hidden_size;
  for (const auto& s : calib.sequences)
    for (int32_t id : s) {
      double ss = 0;
      for (int64_t j = 0; j < dm; ++j) ss += std::pow(RoundBF16((*emb)[id * dm + j]), 2);
      const double inv = 1 / std::sqrt(ss / dm + c.rms_norm_eps);
      for (int64_t j = 0; j < dm; ++j) trace += std::pow(RoundBF16((*emb)[id * dm + j]) * inv * (*norm)[j], 2);
    }
  trace *= 2.0 / calib.tokens();
  EXPECT_NEAR(a[0].hessian_trace, trace, 1e-4 * trace);
  // o's inputs come through layer 0's quantized q k v, and layer 1 through
  // the whole quantized layer 0: they differ between 8 and 2 bits.
  EXPECT_NE(a[3].hessian_trace, b[3].hessian_trace);
  for (size_t t = 7; t < a.size(); ++t) EXPECT_NE(a[t].hessian_trace, b[t].hessian_trace) << a[t].name;
}

TEST(Calibration, RepeatsBitForBitAndKeepsDenseOverrides) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const CalibrationSet calib = TinyCalibration(8, 64);
  const auto heldout = Windows("tiny/tasks/heldout.txt", 2, 64);
  CpuBackend backend;
  const std::string spec = "scheme: w4a16-g32-gptq-act-static\noverrides:\n  - {layers: 1, projections: [down], format: keep}\n";
  auto a = Load(**ckpt, &backend, spec, &calib);
  auto b = Load(**ckpt, &backend, spec, &calib);
  EXPECT_EQ(LogProbs(*a, heldout).logprobs, LogProbs(*b, heldout).logprobs);
  for (const TensorCalibration& t : a->calibration_report().tensors)
    EXPECT_NE(t.name, LayerTensorName(1, "mlp.down_proj.weight"));
  EXPECT_EQ(a->calibration_report().tensors.size(), 7u * (*ckpt)->config().num_layers - 1);
  // Calibration data given to an RTN scheme changes nothing.
  auto rtn = Load(**ckpt, &backend, "w4a16-g32", &calib);
  auto plain = Load(**ckpt, &backend, "w4a16-g32", nullptr);
  EXPECT_EQ(LogProbs(*rtn, heldout).logprobs, LogProbs(*plain, heldout).logprobs);
  EXPECT_TRUE(rtn->calibration_report().tensors.empty());
}

TEST(Calibration, BadCalibrationInputIsRefused) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CpuBackend backend;
  auto none = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("w4a16-g128-gptq")});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("model.layers.0.self_attn.q_proj.weight: GPTQ needs the Hessian"),
            std::string::npos)
      << none.status();
  CalibrationSet bad = TinyCalibration(2, 16);
  bad.sequences[1][3] = 5000;
  auto out_of_vocab = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("w4a16-g128-gptq"), .calibration = &bad});
  ASSERT_FALSE(out_of_vocab.ok());
  EXPECT_NE(out_of_vocab.status().message().find("tiny/calibration.txt: calibration token id 5000 outside"),
            std::string::npos)
      << out_of_vocab.status();
  CalibrationSet long_seq = TinyCalibration(1, 128);
  auto too_long = Decoder::Load(
      **ckpt, &backend, {.scheme = TestScheme("w4a16-g128-gptq"), .max_batch_tokens = 64, .calibration = &long_seq});
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("a calibration sequence of 128 tokens does not fit a batch of 64"),
            std::string::npos)
      << too_long.status();
  CalibrationSet empty;
  empty.source = "e.txt";
  auto no_seq = Decoder::Load(**ckpt, &backend, {.scheme = TestScheme("w4a16-g128-gptq"), .calibration = &empty});
  ASSERT_FALSE(no_seq.ok());
  EXPECT_NE(no_seq.status().message().find("e.txt: no calibration sequences"), std::string::npos) << no_seq.status();
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

TEST(SmoothQuantCalibration, SmoothingAloneLeavesTheModelUnchangedWithinRounding) {
  // Every projection kept bf16: the norms divided by s and the columns
  // multiplied by s compute what the unsmoothed model computes.
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  const CalibrationSet calib = TinyCalibration(8, 128);
  const auto heldout = Windows("tiny/tasks/heldout.txt", 4, 128);
  CpuBackend backend;
  const RowScores fp32 = LogProbs(*Load(**ckpt, &backend, "fp32", nullptr), heldout);
  const RowScores bf16 = LogProbs(*Load(**ckpt, &backend, "bf16", nullptr), heldout);
  auto d = Load(**ckpt, &backend, "scheme: w8a8-sq0.5\noverrides:\n  - {format: keep}\n", &calib);
  ASSERT_NE(d, nullptr);
  const RowScores smoothed = LogProbs(*d, heldout);
  // The tiny model's weights are bf16 already: what differs is W·s rounded
  // back to bf16 (relative error <= 2^-9 a weight).
  EXPECT_EQ(fp32.logprobs, bf16.logprobs);
  const double kl = MeanKl(bf16, smoothed, vocab);
  double worst = 0;
  for (size_t i = 0; i < bf16.logprobs.size(); ++i)
    if (bf16.logprobs[i] > -20) worst = std::max(worst, std::fabs(double(bf16.logprobs[i]) - smoothed.logprobs[i]));
  EXPECT_GT(kl, 0);  // the weights did change
  EXPECT_LT(kl, 1e-5);
  EXPECT_LT(worst, 0.05);
  EXPECT_EQ(d->calibration_report().tensors.size(), 5u * (*ckpt)->config().num_layers);  // q k v gate up
}

TEST(SmoothQuantCalibration, HelpsW4a4OnHeldOutText) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  const CalibrationSet calib = TinyCalibration(32, 128);
  const auto heldout = Windows("tiny/tasks/heldout.txt", 8, 128);
  CpuBackend backend;
  const RowScores fp32 = LogProbs(*Load(**ckpt, &backend, "fp32", nullptr), heldout);
  auto kl = [&](const char* scheme, const CalibrationSet* c) {
    const double v = MeanKl(fp32, LogProbs(*Load(**ckpt, &backend, scheme, c), heldout), vocab);
    std::printf("%-12s KL %.5f nats/token\n", scheme, v);
    return v;
  };
  EXPECT_LT(kl("w4a4-sq0.5", &calib), kl("w4a4", nullptr));
  kl("w8a8", nullptr);
  kl("w8a8-sq0.5", &calib);
}

}  // namespace
}  // namespace qsweep

namespace qsweep {
namespace {

TEST(AwqCalibration, IsCloserToFp32ThanRtnOnHeldOutText) {
  auto ckpt = OpenCheckpoint(TinyModel());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t vocab = (*ckpt)->config().vocab_size;
  const CalibrationSet calib = TinyCalibration(16, 128);
  const auto heldout = Windows("tiny/tasks/heldout.txt", 8, 128);
  CpuBackend backend;
  const RowScores ref = LogProbs(*Load(**ckpt, &backend, "fp32", nullptr), heldout);
  // Grouped formats, as AWQ is used (per channel, w3a16-asym-awq is worse
  // than RTN here with 16 calibration sequences, better with 32).
  for (const char* rtn : {"w4a16-g128", "w3a16-g64", "w4a16-g32-asym"}) {
    const double kl_rtn = MeanKl(ref, LogProbs(*Load(**ckpt, &backend, rtn, nullptr), heldout), vocab);
    const std::string scheme = std::string(rtn) + "-awq";
    auto d = Load(**ckpt, &backend, scheme, &calib);
    ASSERT_NE(d, nullptr);
    const auto& tensors = d->calibration_report().tensors;
    EXPECT_EQ(tensors.size(), 7u * (*ckpt)->config().num_layers);
    for (const TensorCalibration& t : tensors) {
      const bool searched = t.name.find("o_proj") == std::string::npos && t.name.find("down_proj") == std::string::npos;
      EXPECT_EQ(t.awq_alpha >= 0, searched) << t.name;
    }
    const double kl = MeanKl(ref, LogProbs(*d, heldout), vocab);
    EXPECT_LT(kl, kl_rtn) << scheme;
    std::printf("%-22s KL %.5f nats/token  (RTN %.5f)\n", scheme.c_str(), kl, kl_rtn);
  }
}

}  // namespace
}  // namespace qsweep
