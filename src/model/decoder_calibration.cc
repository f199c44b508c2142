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
// Each search runs only as much of the layer as its objective needs (a
// LayerSpan): the attention half for q k v and o, the MLP half from the
// stored MLP inputs for each gate up candidate.
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

// One activation per calibration batch (the hidden states entering the
// current layer, AWQ's reference outputs), in the backend's memory, or
// copied to the host where that is full.
class KeptActs {
 public:
  KeptActs(Backend& backend, size_t batches, ActRole role, const char* what)
      : backend_(backend), role_(role), what_(what), device_(batches), host_(batches) {}
  ~KeptActs() {
    for (Act& a : device_)
      if (a.data) backend_.Free(a);
  }
  void Save(size_t b, const Act& x) {
    if (!device_[b].data && host_[b].empty()) {
      absl::StatusOr<Act> a = backend_.Alloc(x.rows, x.cols, role_, what_);
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
  // Σ (y − kept)², in double.
  double SquaredError(size_t b, const Act& y) {
    if (device_[b].data) return backend_.SquaredError(y, device_[b]);
    const std::vector<float> v = backend_.Download(y);
    double err = 0;
    for (size_t j = 0; j < v.size(); ++j) err += std::pow(double(v[j]) - host_[b][j], 2);
    return err;
  }

 private:
  Backend& backend_;
  ActRole role_;
  const char* what_;
  std::vector<Act> device_;
  std::vector<std::vector<float>> host_;
};

// An activation freed with its scope.
struct ScopedAct {
  Backend& backend;
  Act act;
  ~ScopedAct() {
    if (act.data) backend.Free(act);
  }
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
  KeptActs hidden(*backend_, batches.size(), ActRole::kAccumulate, "calibration hidden states");  // entering the layer
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
  // Runs every batch through `span` of layer L from `from` (the layer's
  // inputs, or the MLP's for LayerSpan::kMlpToHidden), `tap` seeing the linears' inputs.
  auto run_batches = [&](const Layer& L, LayerSpan span, KeptActs& from,
                         const std::function<void(size_t, LinearInput, const Act&)>& tap) {
    for (size_t b = 0; b < batches.size(); ++b) {
      start_batch(batches[b]);
      from.Load(b, x_);
      const LinearInputTap t = [&](LinearInput which, const Act& a) { tap(b, which, a); };
      RunLayer(L, &t, -1, span);
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
  // inputs (not q, k); then round to nearest. On a backend that takes the
  // stage's formats (Backend::AwqOnDevice) and bf16 weights, everything
  // stays on its device: the weights as dense bf16 layers, the statistics,
  // the sample, the reference outputs, each candidate and its error, the
  // clip search and the final quantization; elsewhere on the host.
  // A stage's inputs need the layer only up to them.
  auto stage_span = [](const Stage& stage) {
    return stage.input == LinearInput::kAttention || stage.input == LinearInput::kAttentionOutput
               ? LayerSpan::kToAttentionOutput
               : LayerSpan::kToMlpHidden;
  };
  auto awq_on_device = [&](int64_t i, const Stage& stage) {
    if (options_.host_quantize) return false;
    for (const Projection& p : stage.projections) {
      const std::string name = LayerTensorName(i, p.suffix);
      const TensorInfo* info = ckpt.Find(name);
      const WeightFormat f = FormatFor(spec, name);
      if (!info || info->dtype != DType::kBF16 || !backend_->AwqOnDevice(f)) return false;
      // Row-parallel parts are quantized on the device only where they cut on groups.
      if (!p.whole && p.count > 1 && (p.in / p.count) % f.group) return false;
    }
    return true;
  };
  auto awq_stage = [&](int64_t i, Layer& L, const Stage& stage) -> absl::Status {
    const Clock::time_point t0 = Clock::now();
    const bool attention = stage.input == LinearInput::kAttention || stage.input == LinearInput::kAttentionOutput;
    const LinearInput objective = attention ? LinearInput::kAttentionOutput : LinearInput::kMlpHidden;
    const LayerSpan span = stage_span(stage);
    const bool device = awq_on_device(i, stage);
    const int64_t every = std::max<int64_t>(1, set.tokens() / 512);  // the clip search's 512 tokens
    int64_t total_rows = 0;
    for (const TokenBatch& b : batches) total_rows += b.rows();
    std::vector<WeightFormat> formats;
    std::vector<std::vector<float>> ws;                        // on the host: W as the scheme keeps it dense
    std::vector<std::vector<std::unique_ptr<Linear>>> dense;  // on the device: W's dense bf16 parts
    for (const Projection& p : stage.projections) {
      const std::string name = LayerTensorName(i, p.suffix);
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> w, ckpt.ReadAll(name));
      formats.push_back(FormatFor(spec, name));
      if (device) {
        const int64_t count = p.whole ? 1 : p.count, width = p.in / count;
        auto rows = [&](int64_t part, int64_t begin, int64_t end, std::span<uint16_t> bits) {
          for (int64_t r = begin; r < end; ++r)
            for (int64_t j = 0; j < width; ++j)
              bits[(r - begin) * width + j] = FloatToBF16(w[r * p.in + part * width + j]);
          return absl::OkStatus();
        };
        QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> d,
                                backend_->CreateDenseBf16(name, LinearRole::kProjection, count, p.out, width, rows));
        dense.push_back(std::move(d));
      } else {
        if (!formats.back().quantized()) RoundToUnquantizedFormat(spec, w);
        ws.push_back(std::move(w));
      }
    }
    auto install = [&](size_t k, std::vector<std::unique_ptr<Linear>> parts) {
      const Projection& p = stage.projections[k];
      if (p.whole) *p.whole = std::move(parts[0]);
      else *p.parts = std::move(parts);
    };
    // The stage's layers from host values (one dense fp32 layer each).
    auto set_linears = [&](const std::vector<std::vector<float>>& values) -> absl::Status {
      for (size_t k = 0; k < values.size(); ++k) {
        const Projection& p = stage.projections[k];
        QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Linear> l,
                                dense_linear(LayerTensorName(i, p.suffix), values[k], p.out, p.in));
        std::vector<std::unique_ptr<Linear>> one;
        one.push_back(std::move(l));
        install(k, std::move(one));
      }
      return absl::OkStatus();
    };
    // The unquantized stage: its inputs' mean |x|, sampled inputs, and the reference outputs.
    if (device) {
      for (size_t k = 0; k < dense.size(); ++k) {
        std::vector<std::unique_ptr<Linear>> shares;
        for (const auto& l : dense[k]) shares.push_back(backend_->ShareLinear(*l, true));
        install(k, std::move(shares));
      }
    } else {
      QSWEEP_RETURN_IF_ERROR(set_linears(ws));
    }
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<ColumnAbsStats> stats, backend_->CreateColumnAbsStats(stage.in));
    KeptActs references(*backend_, batches.size(), ActRole::kCompute, "AWQ's reference outputs");
    KeptActs mlp_inputs(*backend_, batches.size(), ActRole::kAccumulate, "AWQ's MLP inputs");
    std::vector<float> sample;  // on the host
    ScopedAct sample_act{*backend_, {}};  // on the device
    if (device) {
      QSWEEP_ASSIGN_OR_RETURN(sample_act.act, backend_->Alloc((total_rows + every - 1) / every, stage.in,
                                                              ActRole::kCompute, "AWQ's clip-search sample"));
    }
    int64_t seen = 0, sampled = 0;
    run_batches(L, span, hidden, [&](size_t b, LinearInput which, const Act& a) {
      if (which == stage.input) {
        stats->Add(a);
        std::vector<int64_t> picks;
        for (int64_t r = 0; r < a.rows; ++r, ++seen)
          if (seen % every == 0) picks.push_back(r);
        if (device) {
          Act at = sample_act.act;
          at.data = static_cast<char*>(at.data) + sampled * at.cols * DTypeBytes(at.dtype);
          at.rows = static_cast<int64_t>(picks.size());
          backend_->GatherRows(a, picks, at);
        } else {
          const std::vector<float> x = backend_->Download(a);
          for (int64_t r : picks) sample.insert(sample.end(), x.begin() + r * stage.in, x.begin() + (r + 1) * stage.in);
        }
        sampled += static_cast<int64_t>(picks.size());
      }
      if (which == objective && stage.norm) references.Save(b, a);
      if (which == LinearInput::kMlp && stage.norm && !attention) mlp_inputs.Save(b, x_);
    });
    backend_->Synchronize();
    report.capture_seconds += Since(t0);
    const Clock::time_point t1 = Clock::now();
    std::vector<float> s(stage.in, 1.0f);
    double alpha = -1;
    if (stage.norm) {
      absl::Status failed;
      const AwqScaleChoice choice = SearchAwqScales(stats->MeanAbs(), 20, [&](std::span<const float> cand) {
        if (!failed.ok()) return double(INFINITY);
        if (device) {
          for (size_t k = 0; k < dense.size() && failed.ok(); ++k) {
            absl::StatusOr<std::unique_ptr<Linear>> c = backend_->AwqCandidate(
                LayerTensorName(i, stage.projections[k].suffix), *dense[k][0], formats[k], cand);
            if (!c.ok()) {
              failed = c.status();
              break;
            }
            std::vector<std::unique_ptr<Linear>> one;
            one.push_back(*std::move(c));
            install(k, std::move(one));
          }
        } else {
          std::vector<std::vector<float>> values;
          for (size_t k = 0; k < ws.size(); ++k) {
            const Projection& p = stage.projections[k];
            values.push_back(formats[k].quantized() ? QuantizeScaledForSearch(formats[k], ws[k], p.out, p.in, cand)
                                                    : ws[k]);
          }
          failed = set_linears(values);
        }
        if (!failed.ok()) return double(INFINITY);
        double err = 0;
        int64_t n = 0;
        // The attention half from the layer's inputs; the MLP half from the MLP's.
        run_batches(L, attention ? LayerSpan::kToAttentionOutput : LayerSpan::kMlpToHidden,
                    attention ? hidden : mlp_inputs, [&](size_t b, LinearInput which, const Act& a) {
                      if (which != objective) return;
                      err += references.SquaredError(b, a);
                      n += a.rows * a.cols;
                    });
        return err / std::max<int64_t>(n, 1);
      });
      QSWEEP_RETURN_IF_ERROR(failed);
      s = choice.scales;
      alpha = choice.alpha;
      QSWEEP_ASSIGN_OR_RETURN(std::vector<float> g, ckpt.ReadAll(LayerTensorName(i, stage.norm)));
      DivideBySmoothing(g, s);
      QSWEEP_ASSIGN_OR_RETURN(*stage.norm_array, backend_->Upload(g));
    }
    report.search_seconds += Since(t1);
    const int64_t rows = sampled;
    if (!device)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < stage.in; ++j) sample[r * stage.in + j] /= s[j];  // the inputs of W·s
    for (size_t k = 0; k < stage.projections.size(); ++k) {
      const Projection& p = stage.projections[k];
      const std::string name = LayerTensorName(i, p.suffix);
      const bool qk = std::string_view(p.suffix).starts_with("self_attn.q_") ||
                      std::string_view(p.suffix).starts_with("self_attn.k_");
      const bool clip = formats[k].kind == WeightKind::kInt && !qk;
      if (device) {
        const Clock::time_point tc = Clock::now();
        std::vector<float> kept;
        if (clip) {
          QSWEEP_ASSIGN_OR_RETURN(kept, backend_->AwqClipSearch(name, dense[k], formats[k], s,
                                                                sample_act.act.Rows(rows), 20, 0.5));
        }
        report.clip_seconds += Since(tc);
        AwqTransform t;
        if (stage.norm) t.column_scales = s;
        t.clip = kept;
        QSWEEP_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Linear>> q,
                                backend_->QuantizeLinearParts(name, LinearRole::kProjection, dense[k], formats[k], t));
        install(k, std::move(q));
      } else {
        std::vector<float> w;
        QSWEEP_ASSIGN_OR_RETURN(w, ckpt.ReadAll(name));
        ScaleColumns(w, s);
        const Clock::time_point tc = Clock::now();
        if (clip) AwqClip(formats[k], w, p.out, p.in, sample.data(), rows);
        report.clip_seconds += Since(tc);
        if (p.whole) {
          QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<PackedLinear> q,
                                  QuantizeTensor(rtn, name, std::move(w), p.out, p.in));
          QSWEEP_ASSIGN_OR_RETURN(*p.whole, backend_->CreateLinear(name, LinearRole::kProjection, std::move(q)));
        } else {
          auto columns = [&](int64_t begin, int64_t end) -> absl::StatusOr<std::vector<float>> {
            std::vector<float> part;
            for (int64_t r = 0; r < p.out; ++r)
              part.insert(part.end(), w.begin() + r * p.in + begin, w.begin() + r * p.in + end);
            return part;
          };
          QSWEEP_ASSIGN_OR_RETURN(auto q,
                                  QuantizeRowParallelParts(rtn, name, p.out, p.in, 0, p.count, p.count, columns));
          QSWEEP_ASSIGN_OR_RETURN(*p.parts, backend_->CreateLinearParts(name, std::move(q)));
        }
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
      std::unique_ptr<ColumnAbsStats> absmax;
      if (smooth) {
        QSWEEP_ASSIGN_OR_RETURN(absmax, backend_->CreateColumnAbsStats(stage.in));
      } else {
        QSWEEP_ASSIGN_OR_RETURN(acc, backend_->CreateHessianSum(stage.in));
      }
      double hessian_seconds = 0;
      // The sum's own time, apart from the forward's: the device is waited
      // for on both sides of it.
      const LinearInputTap tap = [&](LinearInput which, const Act& a) {
        if (which != stage.input) return;
        backend_->Synchronize();
        const Clock::time_point t = Clock::now();
        if (smooth)
          absmax->Add(a);
        else
          acc->Add(a);
        backend_->Synchronize();
        hessian_seconds += Since(t);
      };
      const Clock::time_point capture_start = Clock::now();
      for (size_t b = 0; b < batches.size(); ++b) {
        start_batch(batches[b]);
        hidden.Load(b, x_);
        RunLayer(L, &tap, -1, stage_span(stage));
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
            SmoothingScales(absmax->AbsMax(), std::vector<std::span<const float>>(ws.begin(), ws.end()),
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
          "quantize %.2f s, of which %s)",
          scheme, i + 1, config_.num_layers, set.tokens(), Since(layer_start), report.capture_seconds,
          report.hessian_seconds, report.quantize_seconds,
          awq ? absl::StrFormat("scale search %.2f s and clipping %.2f s", report.search_seconds, report.clip_seconds)
              : absl::StrFormat("factorization %.2f s and columns %.2f s", report.factorize_seconds,
                                report.columns_seconds)));
  }
  x_ = full_x;
  return absl::OkStatus();
}

}  // namespace qsweep
