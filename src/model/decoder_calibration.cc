// True-sequential calibration (GPTQ's llama.py with --true-sequential): the
// calibration sequences' hidden states are kept between layers (on the
// backend's device where they fit: 4 GiB for 128 x 2048 tokens of 4096);
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
// AWQ (quant/awq.h) too: per stage, the scale search where a norm feeds it
// (q k v, gate up) and the clipping search, then round to nearest. Where it
// differs from mit-han-lab/llm-awq: the searched block output is the
// stage's output before o / down (the reference inspects the whole
// attention / MLP module, o / down included, unquantized); v→o and up→down
// are not scaled (the reference scales up→down, and v→o where the shapes
// match, i.e. not for GQA); and the inputs come through the layers already
// quantized (the reference feeds each layer the unquantized model's).
#include <chrono>
#include <cmath>
#include <functional>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "model/decoder.h"
#include "model/decoder_layer.h"
#include "quant/gptq.h"
#include "quant/awq.h"
#include "quant/smoothquant.h"
#include "quant/tensor_quantizer.h"

namespace qsweep {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The hidden states of each calibration batch entering the current layer,
// in the backend's memory, or copied to the host where that is full.
class HiddenStates {
 public:
  HiddenStates(Backend& backend, size_t batches) : backend_(backend), device_(batches), host_(batches) {}
  ~HiddenStates() {
    for (Act& a : device_)
      if (a.data) backend_.Free(a);
  }
  void Save(size_t b, const Act& x) {
    if (!device_[b].data && host_[b].empty()) {
      absl::StatusOr<Act> a = backend_.Alloc(x.rows, x.cols, ActRole::kAccumulate, "calibration hidden states");
      if (a.ok()) device_[b] = *a;
    }
    if (device_[b].data)
      backend_.SliceColumns(x, 0, device_[b]);
    else
      host_[b] = backend_.Download(x);
  }
  void Load(size_t b, Act& x) {
    if (device_[b].data)
      backend_.SliceColumns(device_[b], 0, x);
    else
      backend_.UploadTo(host_[b], x);
  }

 private:
  Backend& backend_;
  std::vector<Act> device_;
  std::vector<std::vector<float>> host_;
};

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
  HiddenStates hidden(*backend_, batches.size());  // entering the current layer
  for (size_t b = 0; b < batches.size(); ++b) {
    start_batch(batches[b]);
    backend_->Embed(*embedding_, config_.hidden_size, batches[b].tokens, x_);
    hidden.Save(b, x_);
  }

  CalibrationReport& report = calibration_report_;
  report = CalibrationReport{};
  LayerCalibration calib;
  calib.gptq = spec.gptq;
  calib.gptq_solver = [this](const WeightFormat& f, std::span<const float> w, int64_t out, int64_t in,
                             std::span<const float> hessian, const GptqOptions& options, std::string_view name) {
    return backend_->Gptq(f, w, out, in, hessian, options, name);
  };
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

  const bool awq = spec.method == Method::kAwq;
  SchemeSpec rtn = spec;
  rtn.method = Method::kRtn;
  // Runs every batch through layer L from its stored inputs, `tap` seeing the linears' inputs.
  auto run_batches = [&](const Layer& L, const std::function<void(size_t, LinearInput, const Act&)>& tap) {
    for (size_t b = 0; b < batches.size(); ++b) {
      start_batch(batches[b]);
      hidden.Load(b, x_);
      const LinearInputTap t = [&](LinearInput which, const Act& a) { tap(b, which, a); };
      RunLayer(L, &t);
    }
  };
  auto dense_linear = [&](const std::string& name, std::vector<float> w, int64_t out,
                          int64_t in) -> absl::StatusOr<std::unique_ptr<Linear>> {
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q,
                            QuantizeLinear(WeightFormat::Dense(32), std::move(w), out, in));
    return backend_->CreateLinear(name, LinearRole::kProjection, std::move(q));
  };
  // AWQ (quant/awq.h) for one stage: the scale search where a norm feeds
  // it, with the stage's output (the attention output before o, the SwiGLU
  // output before down) as the block output; then clipping on sampled
  // inputs (not q, k); then round to nearest.
  auto awq_stage = [&](int64_t i, Layer& L, const auto& stage) -> absl::Status {
    const Clock::time_point t0 = Clock::now();
    const LinearInput objective =
        stage.input == LinearInput::kAttention ? LinearInput::kAttentionOutput : LinearInput::kMlpHidden;
    const int64_t every = std::max<int64_t>(1, set.tokens() / 512);  // the clip search's 512 tokens
    std::vector<std::vector<float>> ws;
    std::vector<WeightFormat> formats;
    for (const auto& p : stage.projections) {
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, ckpt.ReadAll(LayerTensorName(i, p.suffix)));
      formats.push_back(FormatFor(spec, LayerTensorName(i, p.suffix)));
      if (!formats.back().quantized()) RoundToUnquantizedFormat(spec, w);
      ws.push_back(std::move(w));
    }
    auto set_linears = [&](const std::vector<std::vector<float>>& values) -> absl::Status {
      for (size_t k = 0; k < values.size(); ++k) {
        const auto& p = stage.projections[k];
        QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Linear> l,
                                dense_linear(LayerTensorName(i, p.suffix), values[k], p.out, p.in));
        if (p.whole) *p.whole = std::move(l);
        else {
          p.parts->clear();
          p.parts->push_back(std::move(l));
        }
      }
      return absl::OkStatus();
    };
    // The unquantized stage: its inputs' mean |x|, sampled inputs, and the reference outputs.
    QSWEEP_RETURN_IF_ERROR(set_linears(ws));
    ActMeanAbs mean_abs(stage.in);
    std::vector<float> sample;
    int64_t seen = 0;
    std::vector<std::vector<float>> reference(batches.size());
    run_batches(L, [&](size_t b, LinearInput which, const Act& a) {
      if (which == stage.input) {
        const std::vector<float> x = backend_->Download(a);
        mean_abs.Add(x.data(), a.rows);
        for (int64_t r = 0; r < a.rows; ++r, ++seen)
          if (seen % every == 0) sample.insert(sample.end(), x.begin() + r * stage.in, x.begin() + (r + 1) * stage.in);
      } else if (which == objective && stage.norm) {
        reference[b] = backend_->Download(a);
      }
    });
    report.capture_seconds += Since(t0);
    const Clock::time_point t1 = Clock::now();
    std::vector<float> s(stage.in, 1.0f);
    double alpha = -1;
    if (stage.norm) {
      const AwqScaleChoice choice = SearchAwqScales(mean_abs.values(), 20, [&](std::span<const float> cand) {
        std::vector<std::vector<float>> values;
        for (size_t k = 0; k < ws.size(); ++k) {
          const auto& p = stage.projections[k];
          values.push_back(formats[k].quantized() ? QuantizeScaledForSearch(formats[k], ws[k], p.out, p.in, cand)
                                                  : ws[k]);
        }
        QSWEEP_CHECK(set_linears(values).ok());
        double err = 0;
        int64_t n = 0;
        run_batches(L, [&](size_t b, LinearInput which, const Act& a) {
          if (which != objective) return;
          const std::vector<float> y = backend_->Download(a);
          for (size_t j = 0; j < y.size(); ++j) err += std::pow(double(y[j]) - reference[b][j], 2);
          n += static_cast<int64_t>(y.size());
        });
        return err / std::max<int64_t>(n, 1);
      });
      s = choice.scales;
      alpha = choice.alpha;
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> g, ckpt.ReadAll(LayerTensorName(i, stage.norm)));
      DivideBySmoothing(g, s);
      QSWEEP_ASSIGN_OR_RETURN(*stage.norm_array, backend_->Upload(g));
    }
    const int64_t rows = static_cast<int64_t>(sample.size()) / stage.in;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < stage.in; ++j) sample[r * stage.in + j] /= s[j];  // the inputs of W·s
    for (size_t k = 0; k < ws.size(); ++k) {
      const auto& p = stage.projections[k];
      const std::string name = LayerTensorName(i, p.suffix);
      std::vector<float> w;
      QSWEEP_ASSIGN_OR_RETURN(w, ckpt.ReadAll(name));
      ScaleColumns(w, s);
      const bool qk = std::string_view(p.suffix).starts_with("self_attn.q_") ||
                      std::string_view(p.suffix).starts_with("self_attn.k_");
      if (formats[k].kind == WeightKind::kInt && !qk) AwqClip(formats[k], w, p.out, p.in, sample.data(), rows);
      if (p.whole) {
        QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q, QuantizeTensor(rtn, name, std::move(w), p.out, p.in));
        QSWEEP_ASSIGN_OR_RETURN(*p.whole, backend_->CreateLinear(name, LinearRole::kProjection, std::move(q)));
      } else {
        auto columns = [&](int64_t begin, int64_t end) -> absl::StatusOr<std::vector<float>> {
          std::vector<float> part;
          for (int64_t r = 0; r < p.out; ++r) part.insert(part.end(), w.begin() + r * p.in + begin, w.begin() + r * p.in + end);
          return part;
        };
        QSWEEP_ASSIGN_OR_RETURN(auto q, QuantizeRowParallelParts(rtn, name, p.out, p.in, 0, p.count, p.count, columns));
        QSWEEP_ASSIGN_OR_RETURN(*p.parts, backend_->CreateLinearParts(name, std::move(q)));
      }
      TensorCalibration t;
      t.name = name;
      t.tokens = set.tokens();
      t.awq_alpha = alpha;
      report.tensors.push_back(t);
    }
    report.quantize_seconds += Since(t1);
    return absl::OkStatus();
  };

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
      if (awq) {
        if (!quantized) continue;
        QSWEEP_RETURN_IF_ERROR(awq_stage(i, L, stage));
        continue;
      }
      // SmoothQuant smooths only what a norm feeds (the reference's Llama
      // rule): o and down keep their round-to-nearest load. It smooths a
      // stage kept dense too, where another of its stages is quantized.
      if (smooth ? !stage.norm : !quantized) continue;
      std::unique_ptr<HessianSum> acc;
      if (!smooth) {
        QSWEEP_ASSIGN_OR_RETURN(acc, backend_->CreateHessianSum(stage.in));
      }
      ActAbsMax absmax(smooth ? stage.in : 0);
      double hessian_seconds = 0;
      // The sum's own time, apart from the forward's: the device is waited
      // for on both sides of it.
      const LinearInputTap tap = [&](LinearInput which, const Act& a) {
        if (which != stage.input) return;
        if (smooth) {
          const std::vector<float> x = backend_->Download(a);
          const Clock::time_point t = Clock::now();
          absmax.Add(x.data(), a.rows);
          hessian_seconds += Since(t);
          return;
        }
        backend_->Synchronize();
        const Clock::time_point t = Clock::now();
        acc->Add(a);
        backend_->Synchronize();
        hessian_seconds += Since(t);
      };
      const Clock::time_point capture_start = Clock::now();
      for (size_t b = 0; b < batches.size(); ++b) {
        start_batch(batches[b]);
        hidden.Load(b, x_);
        RunLayer(L, &tap);
      }
      backend_->Synchronize();
      report.capture_seconds += Since(capture_start) - hessian_seconds;
      report.hessian_seconds += hessian_seconds;
      const Clock::time_point quantize_start = Clock::now();
      calib.hessian = smooth ? std::vector<float>() : acc->Hessian();
      calib.tokens = smooth ? set.tokens() : acc->tokens();
      acc.reset();
      double trace = 0;
      if (!smooth)
        for (int64_t j = 0; j < stage.in; ++j) trace += calib.hessian[j * stage.in + j];
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
        report.factorize_seconds += chose.factorize_seconds;
        report.columns_seconds += chose.columns_seconds;
      }
      report.quantize_seconds += Since(quantize_start);
    }
    // The next layer's inputs, through this layer quantized.
    for (size_t b = 0; b < batches.size(); ++b) {
      start_batch(batches[b]);
      hidden.Load(b, x_);
      RunLayer(L);
      hidden.Save(b, x_);
    }
    if (options_.progress)
      options_.progress(absl::StrFormat(
          "%s: calibrated layer %d/%d on %d tokens in %.2f s (so far: capture %.2f s, Hessian %.2f s, "
          "quantize %.2f s, of which factorization %.2f s and columns %.2f s)",
          scheme, i + 1, config_.num_layers, set.tokens(), Since(layer_start), report.capture_seconds,
          report.hessian_seconds, report.quantize_seconds, report.factorize_seconds, report.columns_seconds));
  }
  x_ = full_x;
  return absl::OkStatus();
}

}  // namespace qsweep
