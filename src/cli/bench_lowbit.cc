// `qsweep bench gemm --formats ...`: the low-bit GEMM family and the
// activation-quantized products (fp8, w8a8, w4a8, w4a4) against the bf16
// GEMM of the same shape, in the same process (nccl-tests' manner:
// every row checks its result before its time counts). Shapes are a model's
// linear layers; one more row per format and row count sums a whole decoder
// layer (each shape times how often the layer has it).
#include "cli/bench_lowbit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <random>

#include "absl/strings/str_format.h"
#include "cli/bench_layer.h"
#include "core/dtype.h"
#include "quant/packed_linear.h"
#include "quant/scheme.h"

namespace qsweep::cli {
namespace {

struct LayerShape {
  std::string names;
  int64_t out, in;
  int count;  // linears of this shape in one decoder layer
};

// A Llama layer's widths: the named models', or llama:<hidden>x<kv>x<ffn>.
std::optional<LayerDims> LlamaDims(const std::string& model) {
  if (model == "llama3-70b") return LayerDims{8192, 1024, 28672};
  if (model == "llama3-8b") return LayerDims{4096, 1024, 14336};
  LayerDims d{};
  char end = 0;
  if (std::sscanf(model.c_str(), "llama:%ldx%ldx%ld%c", &d.hidden, &d.kv, &d.ffn, &end) != 3) return std::nullopt;
  // Every linear of the layer (each reads or writes the hidden width) at
  // most 2^32 weights, as for <out>x<in>.
  if (d.hidden <= 0 || d.kv <= 0 || d.ffn <= 0) return std::nullopt;
  for (const int64_t v : {d.hidden, d.kv, d.ffn})
    if (v > (int64_t{1} << 32) / d.hidden) return std::nullopt;
  return d;
}

absl::StatusOr<std::vector<LayerShape>> ShapesOf(const std::string& model) {
  // q, k, v, o, gate, up, down at tp 1.
  auto llama = [](int64_t hidden, int64_t kv, int64_t ffn) {
    return std::vector<LayerShape>{{"q,o", hidden, hidden, 2},
                                   {"k,v", kv, hidden, 2},
                                   {"gate,up", ffn, hidden, 2},
                                   {"down", hidden, ffn, 1}};
  };
  if (const std::optional<LayerDims> d = LlamaDims(model)) return llama(d->hidden, d->kv, d->ffn);
  int64_t out = 0, in = 0;
  if (std::sscanf(model.c_str(), "%ldx%ld", &out, &in) == 2 && out > 0 && in > 0 && out * in <= (int64_t{1} << 32))
    return std::vector<LayerShape>{{model, out, in, 1}};
  return absl::InvalidArgumentError(
      absl::StrFormat("--shapes: '%s' is not llama3-70b, llama3-8b, llama:<hidden>x<kv>x<ffn> or <out>x<in> (at "
                      "most 2^32 weights)",
                      model));
}

// Median time per product, rotating over `layers` (copies of one weight, so
// that no copy is still in L2 when its turn comes back), launches batched
// until a sample takes a few milliseconds.
double MedianMicros(Backend& b, std::span<const std::unique_ptr<Linear>> layers, const Act& x, Act& y, int iters) {
  auto run = [&](int64_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) b.Matmul(*layers[i % layers.size()], x, y);
    b.Synchronize();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  };
  const int64_t copies = static_cast<int64_t>(layers.size());
  const double estimate = run(copies);
  const int64_t n = std::clamp<int64_t>(static_cast<int64_t>(3000 / std::max(estimate, 1e-3)), copies, 4000);
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) t.push_back(run(n));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The largest error of 48 sampled outputs against fp64 dot products of the
// same operands (the bf16 input, or its quantized values where the format
// quantizes activations), relative to the sum of |terms|.
// w: the reference weights, rounded to bf16 as read where round_w says so.
double SampledError(const std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& w,
                    bool round_w, int64_t rows, int64_t out, int64_t in, uint32_t seed, ActKind act) {
  std::mt19937 rng(seed);
  double worst = 0;
  for (int s = 0; s < 48; ++s) {
    const int64_t m = rng() % rows, n = rng() % out;
    const std::vector<float> xm = QuantizedActivationValues(act, &x[m * in], in);
    double ref = 0, mag = 0;
    for (int64_t k = 0; k < in; ++k) {
      const float wk = w[n * in + k];
      const double t = double{xm[k]} * (round_w ? RoundBF16(wk) : wk);
      ref += t;
      mag += std::fabs(t);
    }
    worst = std::max(worst, std::fabs(y[m * out + n] - ref) / (mag + 1e-30));
  }
  return worst;
}

struct Timed {
  double us = 0, err = 0;
};

}  // namespace

absl::Status BenchLowbit(Backend& b, const LowbitBenchArgs& a) {
  b.SetModelPrecision(DType::kBF16);
  b.SetBatchInvariant(false);  // the kernel for each row count
  std::vector<LayerShape> shapes;
  for (const std::string& s : a.shapes) {
    auto more = ShapesOf(s);
    if (!more.ok()) return more.status();
    shapes.insert(shapes.end(), more->begin(), more->end());
  }
  std::vector<SchemeSpec> formats;
  for (const std::string& f : a.formats) {
    auto s = ResolveScheme(f);
    if (!s.ok()) return s.status();
    if (!s->format.quantized() || s->method != Method::kRtn)
      return absl::InvalidArgumentError(
          absl::StrFormat("--formats: %s is not a quantized round-to-nearest format (the GEMMs' inputs)", f));
    formats.push_back(*s);
  }
  absl::PrintF("# qsweep bench gemm (low-bit) on %s: median of %d samples; weights rotated over copies past L2\n",
              b.DeviceName().c_str(), a.iters);
  absl::PrintF("# %-14s %-16s %6s %11s %9s %9s %8s %10s\n", "format", "shape", "M", "time_us", "TFLOP/s", "GB/s",
              "vs_bf16", "max_err");
  // Per (format, M): the layer's summed times, the format's and bf16's.
  std::map<std::pair<std::string, int64_t>, std::pair<double, double>> layer;
  for (const LayerShape& s : shapes) {
    const std::vector<float> w = RandomBf16(s.out * s.in, static_cast<uint32_t>(s.out + s.in));
    auto copies_for = [&](double bytes) { return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(200e6 / bytes)), 1, 64); };
    std::vector<std::unique_ptr<Linear>> dense;
    auto packed_dense = QuantizeLinear(WeightFormat::Dense(16), w, s.out, s.in);
    if (!packed_dense.ok()) return packed_dense.status();
    for (int64_t c = 0, n = copies_for(s.out * s.in * 2.0); c < n; ++c) {
      auto l = b.CreateLinear("bench.gemm.bf16", LinearRole::kProjection, (*packed_dense)->SliceColumns(0, s.in));
      if (!l.ok()) return l.status();
      dense.push_back(*std::move(l));
    }
    std::map<int64_t, Timed> bf16_at;  // by M
    for (const SchemeSpec& f : formats) {
      auto packed = QuantizeLinear(f.format, w, s.out, s.in);
      if (!packed.ok()) return packed.status();
      // The dequantized weights. Products check against them in fp32 where
      // the backend keeps them (MatmulKeepsFp32Weights: the codes times fp32
      // scales of the activation-quantized formats, the low-bit kernel's
      // wide path), else against their bf16 rounding, as SampledError reads.
      std::vector<float> wq(s.out * s.in);
      (*packed)->Dequantize(wq);
      const int64_t before = b.WeightBytes();
      std::vector<std::unique_ptr<Linear>> layers;
      auto first = b.CreateLinear("bench.gemm.packed", LinearRole::kProjection, (*packed)->SliceColumns(0, s.in));
      if (!first.ok()) return first.status();
      layers.push_back(*std::move(first));
      const double bytes = static_cast<double>(b.WeightBytes() - before);
      for (int64_t c = 1, n = copies_for(bytes); c < n; ++c) {
        auto l = b.CreateLinear("bench.gemm.packed", LinearRole::kProjection, (*packed)->SliceColumns(0, s.in));
        if (!l.ok()) return l.status();
        layers.push_back(*std::move(l));
      }
      for (int64_t m : a.rows) {
        const std::vector<float> x = RandomBf16(m * s.in, static_cast<uint32_t>(m * 31 + s.in));
        auto xa = b.Alloc(m, s.in, ActRole::kCompute, "the bench's input");
        if (!xa.ok()) return xa.status();
        auto ya = b.Alloc(m, s.out, ActRole::kAccumulate, "the bench's output");
        if (!ya.ok()) return ya.status();
        b.UploadTo(x, *xa);
        auto measure = [&](std::span<const std::unique_ptr<Linear>> ls, const std::vector<float>& wref,
                           ActKind act) -> Timed {
          Timed t;
          b.Matmul(*ls[0], *xa, *ya);
          t.err = SampledError(b.Download(*ya), x, wref, !b.MatmulKeepsFp32Weights(*ls[0], m), m, s.out, s.in,
                               static_cast<uint32_t>(m), act);
          if (t.err < 1e-4) t.us = MedianMicros(b, ls, *xa, *ya, a.iters);
          return t;
        };
        if (!bf16_at.count(m)) bf16_at[m] = measure(dense, w, ActKind::kNone);
        const Timed base = bf16_at[m], q = measure(layers, wq, f.format.act);
        b.Free(*xa);
        b.Free(*ya);
        for (const auto& [what, t] : {std::pair{"bf16", base}, std::pair{f.base.c_str(), q}})
          if (t.us == 0)
            return absl::InternalError(absl::StrFormat("bench gemm: %s %dx%d at M=%d is wrong: error %.3g of the |terms| sum",
                                                       what, s.out, s.in, m, t.err));
        absl::PrintF("  %-14s %-16s %6d %11.2f %9.1f %9.0f %7.2fx %10.1e\n", f.base.c_str(),
                    absl::StrFormat("%s %dx%d", s.names, s.out, s.in).c_str(), m, q.us,
                    2.0 * m * s.out * s.in / (q.us * 1e-6) / 1e12, bytes / (q.us * 1e-6) / 1e9, base.us / q.us, q.err);
        auto& [fq, fb] = layer[{f.base, m}];
        fq += s.count * q.us;
        fb += s.count * base.us;
      }
    }
    // bf16 itself, once per shape.
    for (const auto& [m, t] : bf16_at)
      absl::PrintF("  %-14s %-16s %6d %11.2f %9.1f %9.0f %7.2fx %10.1e\n", "bf16",
                  absl::StrFormat("%s %dx%d", s.names, s.out, s.in).c_str(), m, t.us,
                  2.0 * m * s.out * s.in / (t.us * 1e-6) / 1e12, s.out * s.in * 2.0 / (t.us * 1e-6) / 1e9, 1.0, t.err);
  }
  for (const SchemeSpec& f : formats)
    if (f.format.act == ActKind::kInt4)
      absl::PrintF("# %s: not native on sm_90 (Hopper has no 4-bit MMA: its codes run the int8 path)\n", f.base.c_str());
  if (shapes.size() > 1) {
    absl::PrintF("# the whole layer (every linear of one decoder layer, summed)\n");
    for (const auto& [key, t] : layer)
      absl::PrintF("  %-14s %-16s %6d %11.2f %9s %9s %7.2fx\n", key.first.c_str(), "layer", key.second, t.first, "-",
                  "-", t.second / t.first);
  }
  // One model's layer, also as the decoder runs it.
  const std::optional<LayerDims> dims = a.shapes.size() == 1 ? LlamaDims(a.shapes[0]) : std::nullopt;
  if (!dims) return absl::OkStatus();
  absl::PrintF("# the whole layer as the decoder runs it (q, k, v and gate, up from one input each; timed together)\n");
  auto bf16_layer = DecoderOrderLayerMicros(b, *dims, WeightFormat::Dense(16), a.rows, a.iters);
  if (!bf16_layer.ok()) return bf16_layer.status();
  for (const SchemeSpec& f : formats) {
    auto t = DecoderOrderLayerMicros(b, *dims, f.format, a.rows, a.iters);
    if (!t.ok()) return t.status();
    for (size_t i = 0; i < a.rows.size(); ++i)
      absl::PrintF("  %-14s %-16s %6d %11.2f %9s %9s %7.2fx\n", f.base.c_str(), "layer, decoder", a.rows[i], (*t)[i],
                  "-", "-", (*bf16_layer)[i] / (*t)[i]);
  }
  for (size_t i = 0; i < a.rows.size(); ++i)
    absl::PrintF("  %-14s %-16s %6d %11.2f %9s %9s %7.2fx\n", "bf16", "layer, decoder", a.rows[i], (*bf16_layer)[i],
                "-", "-", 1.0);
  return absl::OkStatus();
}

}  // namespace qsweep::cli
