// True-sequential calibration (GPTQ's llama.py with --true-sequential): the
// calibration sequences' hidden states are kept on the host between layers;
// each layer is quantized in four stages, q k v, then o, then gate up, then
// down, each from the Hessian of its inputs as RunLayer computes them
// through the stages already quantized (a tap on the same forward the
// scorer runs); then the quantized layer makes the next layer's inputs.
// SmoothQuant goes the same way with the inputs' max |x| per channel in
// place of the Hessian, for the stages a norm feeds (q k v, gate up): the
// norm's weight is divided by the smoothing scales, the projections'
// columns multiplied (quant/smoothquant.h). Unlike the reference, which
// measures max |x| once on the unquantized model, the inputs here come
// through the layers already smoothed and quantized.
#include <chrono>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/decoder.h"
#include "model/decoder_layer.h"
#include "quant/gptq.h"
#include "quant/smoothquant.h"
#include "quant/tensor_quantizer.h"

namespace qsweep {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

absl::Status Decoder::Calibrate(const Checkpoint& ckpt) {
  const CalibrationSet& set = *options_.calibration;
  const SchemeSpec& spec = options_.scheme;
  const std::string scheme = SchemeName(spec);
  if (options_.tp_size > 1)
    return absl::UnimplementedError(absl::StrFormat(
        "%s: calibrating runs at tensor parallelism 1 for now (this run has %d)", scheme, options_.tp_size));
  if (set.sequences.empty())
    return absl::InvalidArgumentError(absl::StrFormat("%s: no calibration sequences", set.source));
  const int64_t cap = options_.max_batch_tokens;
  std::vector<TokenBatch> batches;
  for (const std::vector<int32_t>& seq : set.sequences) {
    const int64_t len = static_cast<int64_t>(seq.size());
    if (len == 0 || len > cap)
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: a calibration sequence of %d tokens does not fit a batch of %d tokens (scoring.batch_tokens)",
          set.source, len, cap));
    for (int32_t t : seq)
      if (t < 0 || t >= config_.vocab_size)
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: calibration token id %d outside the vocabulary [0, %d)", set.source, t, config_.vocab_size));
    if (batches.empty() || batches.back().rows() + len > cap) batches.emplace_back();
    batches.back().AddSequence(seq);
  }

  const Act full_x = x_;
  auto start_batch = [&](const TokenBatch& b) {
    backend_->SetLayout(b.layout);
    x_ = full_x;
    x_.rows = b.rows();
  };
  std::vector<std::vector<float>> hidden(batches.size());  // entering the current layer
  for (size_t b = 0; b < batches.size(); ++b) {
    start_batch(batches[b]);
    backend_->Embed(*embedding_, config_.hidden_size, batches[b].tokens, x_);
    hidden[b] = backend_->Download(x_);
  }

  CalibrationReport& report = calibration_report_;
  report = CalibrationReport{};
  LayerCalibration calib;
  calib.gptq = spec.gptq;
  const int64_t hd = config_.head_dim, dm = config_.hidden_size, qd = config_.q_dim();
  const int64_t kvd = config_.num_kv_heads * hd, im = config_.intermediate_size;
  struct Projection {
    const char* suffix;
    int64_t out, in;
    std::unique_ptr<Linear>* whole;             // column-parallel
    std::vector<std::unique_ptr<Linear>>* parts;  // row-parallel, `count` parts
    int64_t count;
  };
  struct Stage {
    LinearInput input;
    int64_t in;
    std::vector<Projection> projections;
    const char* norm;                          // the norm before them, if any
    std::unique_ptr<DeviceArray>* norm_array;
  };
  const bool smooth = spec.method == Method::kSmoothQuant;

  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const Clock::time_point layer_start = Clock::now();
    Layer& L = layers_[i];
    const std::vector<Stage> stages = {
        {LinearInput::kAttention, dm,
         {{"self_attn.q_proj.weight", qd, dm, &L.q, nullptr, 0},
          {"self_attn.k_proj.weight", kvd, dm, &L.k, nullptr, 0},
          {"self_attn.v_proj.weight", kvd, dm, &L.v, nullptr, 0}},
         "input_layernorm.weight", &L.attn_norm},
        {LinearInput::kAttentionOutput, qd, {{"self_attn.o_proj.weight", dm, qd, nullptr, &L.o, o_parts_}}, nullptr,
         nullptr},
        {LinearInput::kMlp, dm,
         {{"mlp.gate_proj.weight", im, dm, &L.gate, nullptr, 0}, {"mlp.up_proj.weight", im, dm, &L.up, nullptr, 0}},
         "post_attention_layernorm.weight", &L.mlp_norm},
        {LinearInput::kMlpHidden, im, {{"mlp.down_proj.weight", dm, im, nullptr, &L.down, down_parts_}}, nullptr,
         nullptr},
    };
    for (const Stage& stage : stages) {
      bool quantized = false;
      for (const Projection& p : stage.projections)
        quantized |= FormatFor(spec, LayerTensorName(i, p.suffix)).quantized();
      // SmoothQuant smooths only what a norm feeds (the reference's Llama
      // rule): o and down keep their round-to-nearest load. It smooths a
      // stage kept dense too, where another of its stages is quantized.
      if (smooth ? !stage.norm : !quantized) continue;
      HessianAccumulator acc(smooth ? 0 : stage.in);
      ActAbsMax absmax(smooth ? stage.in : 0);
      double hessian_seconds = 0;
      const LinearInputTap tap = [&](LinearInput which, const Act& a) {
        if (which != stage.input) return;
        const std::vector<float> x = backend_->Download(a);
        const Clock::time_point t = Clock::now();
        if (smooth)
          absmax.Add(x.data(), a.rows);
        else
          acc.Add(x.data(), a.rows);
        hessian_seconds += Since(t);
      };
      const Clock::time_point capture_start = Clock::now();
      for (size_t b = 0; b < batches.size(); ++b) {
        start_batch(batches[b]);
        backend_->UploadTo(hidden[b], x_);
        RunLayer(L, &tap);
      }
      backend_->Synchronize();
      report.capture_seconds += Since(capture_start) - hessian_seconds;
      report.hessian_seconds += hessian_seconds;
      const Clock::time_point quantize_start = Clock::now();
      calib.hessian = acc.Hessian();
      calib.tokens = smooth ? set.tokens() : acc.tokens();
      double trace = 0;
      for (int64_t j = 0; j < acc.in_features(); ++j) trace += calib.hessian[j * stage.in + j];
      if (smooth) {
        // s from the inputs' max |x| and every projection's weights; the
        // norm's weight divided by s here, the columns scaled by the quantizer.
        std::vector<std::vector<float>> ws;
        for (const Projection& p : stage.projections) {
          QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, ckpt.ReadAll(LayerTensorName(i, p.suffix)));
          ws.push_back(std::move(w));
        }
        calib.smooth_scales =
            SmoothingScales(absmax.values(), std::vector<std::span<const float>>(ws.begin(), ws.end()),
                            spec.smooth_alpha);
        QSWEEP_ASSIGN_OR_RETURN(std::vector<float> g, ckpt.ReadAll(LayerTensorName(i, stage.norm)));
        DivideBySmoothing(g, calib.smooth_scales);
        QSWEEP_ASSIGN_OR_RETURN(*stage.norm_array, backend_->Upload(g));
      }
      for (const Projection& p : stage.projections) {
        const std::string name = LayerTensorName(i, p.suffix);
        QuantizeReport chose;
        if (p.whole) {
          QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, ckpt.ReadAll(name));
          QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q,
                                  QuantizeTensor(spec, name, std::move(w), p.out, p.in, &calib, &chose));
          QSWEEP_ASSIGN_OR_RETURN(*p.whole, backend_->CreateLinear(name, LinearRole::kProjection, std::move(q)));
        } else {
          auto columns = [&](int64_t begin, int64_t end) -> absl::StatusOr<std::vector<float>> {
            std::vector<float> w(p.out * (end - begin));
            QSWEEP_RETURN_IF_ERROR(ckpt.ReadSlice(name, 1, begin, end, w));
            return w;
          };
          QSWEEP_ASSIGN_OR_RETURN(auto q, QuantizeRowParallelParts(spec, name, p.out, p.in, 0, p.count, p.count,
                                                                   columns, &calib, &chose));
          QSWEEP_ASSIGN_OR_RETURN(*p.parts, backend_->CreateLinearParts(name, std::move(q)));
        }
        report.tensors.push_back({name, calib.tokens, trace, chose.damp_used, chose.dead_columns});
      }
      report.quantize_seconds += Since(quantize_start);
    }
    // The next layer's inputs, through this layer quantized.
    for (size_t b = 0; b < batches.size(); ++b) {
      start_batch(batches[b]);
      backend_->UploadTo(hidden[b], x_);
      RunLayer(L);
      hidden[b] = backend_->Download(x_);
    }
    if (options_.progress)
      options_.progress(absl::StrFormat(
          "%s: calibrated layer %d/%d on %d tokens in %.2f s (so far: capture %.2f s, Hessian %.2f s, "
          "quantize %.2f s)",
          scheme, i + 1, config_.num_layers, set.tokens(), Since(layer_start), report.capture_seconds,
          report.hessian_seconds, report.quantize_seconds));
  }
  x_ = full_x;
  return absl::OkStatus();
}

}  // namespace qsweep
