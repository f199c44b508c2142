// `qsweep bench gemm|forward`: a small harness in the manner of nccl-tests.
// Every benchmark checks its own result before its time counts, and all of
// them print one uniform table. Ratios are taken within the same run: the
// forward's TFLOP/s is set against the GEMM ceiling measured just before it
// on the same device.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "backend/backend.h"
#include "cli/bench_decode.h"
#include "cli/bench_lowbit.h"
#include "cli/bench_timing.h"
#include "cli/commands.h"
#include "core/dtype.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "quant/packed_linear.h"
#include "quant/scheme.h"

namespace qsweep::cli {
namespace {

struct BenchArgs {
  std::string model = "synthetic:llama3-8b", scheme = "bf16", backend = "cuda", reduction = "both";
  int64_t batch = 4, seq = 2048, head_rows = 2048, gemm = 8192;
  int warmup = 2, iters = 10, topk = 32;
  bool stages = true;
  bool exact_stats = false;  // also the forward with exact token statistics against a baseline
  LowbitBenchArgs lowbit;  // bench gemm --formats
  DecodeBenchArgs decode;  // bench decode
};

struct Row {
  std::string bench, shape;
  double ms = 0, tokens_per_s = 0, tflops = 0;
  std::string check;
};

template <typename F>
std::vector<double> TimeMillis(int warmup, int iters, F&& run) {
  for (int i = 0; i < warmup; ++i) run();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

// y = x·Wᵀ for square n: the device's matmul ceiling for the forward's
// ratio. Checked against fp64 dot products of the bf16-rounded inputs.
absl::StatusOr<Row> BenchGemm(Backend& b, const BenchArgs& a) {
  const int64_t n = a.gemm;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> w(n * n), x(n * n);
  for (auto& v : w) v = BF16ToFloat(FloatToBF16(nd(rng)));
  for (auto& v : x) v = BF16ToFloat(FloatToBF16(nd(rng)));
  b.SetModelPrecision(DType::kBF16);
  auto packed = QuantizeLinear(WeightFormat::Dense(16), w, n, n);
  if (!packed.ok()) return packed.status();
  auto lin = b.CreateLinear("bench.gemm.weight", LinearRole::kProjection, *std::move(packed));
  if (!lin.ok()) return lin.status();
  auto xa = b.Alloc(n, n, ActRole::kCompute, "the GEMM's input"), ya = b.Alloc(n, n, ActRole::kAccumulate, "the GEMM's output");
  if (!xa.ok()) return xa.status();
  if (!ya.ok()) return ya.status();
  b.UploadTo(x, *xa);
  const auto ms = TimeMillis(a.warmup, a.iters, [&] {
    b.Matmul(**lin, *xa, *ya);
    b.Synchronize();
  });
  const std::vector<float> y = b.Download(*ya);
  double worst = 0;
  for (int s = 0; s < 64; ++s) {
    const int64_t i = rng() % n, j = rng() % n;
    double ref = 0, mag = 0;
    for (int64_t k = 0; k < n; ++k) {
      ref += double{x[i * n + k]} * w[j * n + k];
      mag += std::fabs(double{x[i * n + k]} * w[j * n + k]);
    }
    worst = std::max(worst, std::fabs(y[i * n + j] - ref) / mag);
  }
  b.Free(*xa);
  b.Free(*ya);
  if (!(worst < 1e-4))
    return absl::InternalError(absl::StrFormat("gemm check failed: error %.3g of the |terms| sum", worst));
  Row r{.bench = "gemm", .shape = absl::StrFormat("bf16 %dx%dx%d", n, n, n), .ms = Median(ms), .check = ""};
  r.tflops = 2.0 * n * n * n / (r.ms * 1e-3) / 1e12;
  r.check = absl::StrFormat("ok: 64 outputs, err <= %.1e |terms|", worst);
  return r;
}

struct ForwardResult {
  Row row;
  std::vector<std::pair<std::string, double>> stages;
  std::vector<float> target_logprobs;
};

// The forward to log-probs of every position of random token sequences
// (scored against the next token, as a perplexity window is; top-k as run
// files store by default). Checked: finite, repeatable, and within
// `tolerance` of `reference` (another reduction's log-probs) when given.
//
// `exact_stats`: each forward also compares with a baseline, as a
// candidate's run does (the baseline's logits recomputed from its final
// hidden states by its head, the pair statistics on the device). The
// baseline is this model itself, whose hidden states one untimed forward
// keeps: every KL must then be exactly 0.
absl::StatusOr<ForwardResult> BenchForward(Backend& b, const BenchArgs& a, const Checkpoint& ckpt, bool tp_invariant,
                                           const std::vector<float>* reference, bool exact_stats = false) {
  const ModelConfig& c = ckpt.config();
  const auto t0 = std::chrono::steady_clock::now();
  auto scheme = ResolveScheme(a.scheme);
  if (!scheme.ok()) return scheme.status();
  auto dec = Decoder::Load(ckpt, &b,
                           {.scheme = *scheme,
                            .tp_invariant = tp_invariant,
                            .max_batch_tokens = a.batch * a.seq,
                            .max_head_rows = std::min(a.head_rows, a.batch * a.seq),
                            .pair_baseline = exact_stats ? std::optional<SchemeSpec>(*scheme) : std::nullopt});
  if (!dec.ok()) return dec.status();
  std::fprintf(stderr, "qsweep bench: %s loaded as %s in %.1f s%s\n", a.model.c_str(), a.scheme.c_str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               b.WeightBytes() >= 0 ? absl::StrFormat(", weights %.2f GiB on the device", b.WeightBytes() / 1073741824.0).c_str() : "");
  std::mt19937 rng(11);
  TokenBatch batch;
  std::vector<int64_t> scored;
  std::vector<int32_t> targets;
  for (int64_t s = 0; s < a.batch; ++s) {
    std::vector<int32_t> seq(a.seq);
    for (auto& t : seq) t = static_cast<int32_t>(rng() % c.vocab_size);
    const int64_t first = batch.AddSequence(seq);
    for (int64_t i = 0; i + 1 < a.seq; ++i) {
      scored.push_back(first + i);
      targets.push_back(seq[i + 1]);
    }
  }
  ForwardResult out;
  std::vector<float>& first_logprobs = out.target_logprobs;
  absl::Status failed;
  bool repeatable = true;
  std::vector<double> combine_ms;  // host time of the last step, inside each forward
  std::vector<float> base_hidden;
  if (exact_stats) {
    std::vector<LogitStats> chunks;
    RowPairing keep;
    keep.keep_hidden = true;
    if (auto s = (*dec)->Forward(batch, scored, targets, a.topk, false, &chunks, keep, &base_hidden); !s.ok())
      return s;
  }
  // As a candidate's run sends them: bfloat16 bits where the model computes in bf16.
  std::vector<uint16_t> base_bits;
  RowPairing pairing;
  if (b.compute_type() == DType::kBF16) {
    for (float v : base_hidden) base_bits.push_back(FloatToBF16(v));
    pairing.base_hidden_bf16 = base_bits;
  } else {
    pairing.base_hidden = base_hidden;
  }
  bool self_kl_zero = true;
  auto forward = [&] {
    std::vector<LogitStats> chunks;
    if (auto s = (*dec)->Forward(batch, scored, targets, a.topk, false, &chunks, pairing); !s.ok()) failed = s;
    if (!failed.ok()) return;
    const auto c0 = std::chrono::steady_clock::now();
    const RowScores sc = CombineLogitStats(chunks, a.topk, false);
    for (size_t i = 0; i < sc.kl_base_cand.size(); ++i)
      self_kl_zero = self_kl_zero && sc.kl_base_cand[i] == 0 && sc.kl_cand_base[i] == 0;
    combine_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count());
    if (first_logprobs.empty()) first_logprobs = sc.target_logprob;
    else if (sc.target_logprob != first_logprobs) repeatable = false;
  };
  const auto ms = TimeMillis(a.warmup, a.iters, forward);
  if (!failed.ok()) return failed;
  double nll = 0;
  for (float lp : first_logprobs) {
    if (!std::isfinite(lp) || lp > 0)
      return absl::InternalError(absl::StrFormat("forward check failed: a target log-prob is %g", lp));
    nll -= lp;
  }
  if (!repeatable) return absl::InternalError("forward check failed: two runs of one batch differ");
  if (!self_kl_zero) return absl::InternalError("forward check failed: the model against itself has KL above 0");
  const char* mode = tp_invariant ? "tp_invariant" : "fast";
  Row& r = out.row;
  r = Row{.bench = exact_stats ? "fwd+kl" : "forward",
          .shape = absl::StrFormat("%dx%d %s %s", a.batch, a.seq, a.scheme, mode), .ms = Median(ms), .check = ""};
  const double tokens = static_cast<double>(a.batch * a.seq);
  r.tokens_per_s = tokens / (r.ms * 1e-3);
  r.tflops = 2.0 * static_cast<double>(c.ParameterCount()) * r.tokens_per_s / 1e12;
  r.check = absl::StrFormat("ok: finite, repeatable, mean nll %.3f%s", nll / first_logprobs.size(),
                            exact_stats ? ", KL to itself exactly 0" : "");
  if (reference) {
    // The same model summed in another order: bf16 activations round
    // differently, so this is a loose bound on a mean, not bits.
    double diff = 0;
    for (size_t i = 0; i < first_logprobs.size(); ++i) diff += std::fabs(first_logprobs[i] - (*reference)[i]);
    diff /= std::max<size_t>(1, first_logprobs.size());
    if (!(diff < 1e-2 * std::max(1.0, nll / first_logprobs.size())))
      return absl::InternalError(absl::StrFormat(
          "forward check failed: the %s reduction's log-probs differ from the other's by %.3g on average", mode, diff));
    r.check += absl::StrFormat(", mean |diff| %.1e to tp_invariant", diff);
  }
  if (a.stages) {
    // One more pass with every operation timed by the backend (CUDA events
    // on the GPU); its total is a little above the untimed one, the shares
    // are what matter. Backends without timers report nothing.
    b.StageMillis();
    b.EnableStageTimes(true);
    forward();
    b.EnableStageTimes(false);
    out.stages = b.StageMillis();
    if (!out.stages.empty()) out.stages.emplace_back("host: combine", Median(combine_ms));
  }
  return out;
}

absl::Status RunBench(const std::string& what, const BenchArgs& a) {
  auto backend = MakeBackend(a.backend);
  if (!backend.ok()) return backend.status();
  Backend& b = **backend;
  const std::string device = b.DeviceName();
  if (what == "gemm" && !a.lowbit.formats.empty()) return BenchLowbit(b, a.lowbit);
  if (what == "decode") return BenchDecode(b, a.decode);
  std::vector<Row> rows;
  double ceiling = 0;
  if (what == "gemm" || (what == "forward" && a.gemm > 0)) {
    auto g = BenchGemm(b, a);
    if (!g.ok()) return g.status();
    ceiling = g->tflops;
    rows.push_back(*g);
  }
  // Per reduction, its stage times (one column each).
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, double>>>> stages;
  if (what == "forward") {
    auto ckpt = OpenCheckpoint(a.model);
    if (!ckpt.ok()) return ckpt.status();
    std::vector<float> invariant_logprobs;
    for (const bool invariant : {true, false}) {
      if (a.reduction != "both" && (a.reduction == "fast") == invariant) continue;
      auto f = BenchForward(b, a, **ckpt, invariant, invariant || invariant_logprobs.empty() ? nullptr : &invariant_logprobs);
      if (!f.ok()) return f.status();
      rows.push_back(f->row);
      if (!f->stages.empty()) stages.emplace_back(invariant ? "tp_invariant" : "fast", f->stages);
      if (invariant) invariant_logprobs = std::move(f->target_logprobs);
      if (a.exact_stats) {
        // The same forward with exact token statistics, next to it: their ratio is the statistics' cost.
        const double plain_ms = f->row.ms;
        auto e = BenchForward(b, a, **ckpt, invariant, nullptr, /*exact_stats=*/true);
        if (!e.ok()) return e.status();
        e->row.check += absl::StrFormat(", %.3fx the forward", e->row.ms / plain_ms);
        rows.push_back(e->row);
        if (!e->stages.empty()) stages.emplace_back(invariant ? "+exact" : "fast+exact", e->stages);
      }
    }
  }
  std::printf("# qsweep bench %s on %s%s\n", what.c_str(), device.c_str(),
              what == "forward" ? absl::StrFormat(": %s, median of %d after %d warm-up", a.model, a.iters, a.warmup).c_str()
                                : "");
  std::printf("# %-8s %-30s %10s %11s %9s %10s  %s\n", "bench", "shape", "time_ms", "tokens/s", "TFLOP/s",
              "of_gemm", "check");
  for (const Row& r : rows)
    std::printf("  %-8s %-30s %10.3f %11s %9.1f %9.1f%%  %s\n", r.bench.c_str(), r.shape.c_str(), r.ms,
                r.tokens_per_s > 0 ? absl::StrFormat("%.0f", r.tokens_per_s).c_str() : "-", r.tflops,
                ceiling > 0 ? 100.0 * r.tflops / ceiling : 0.0, r.check.c_str());
  if (!stages.empty()) {
    std::printf("#\n# per stage, ms (one forward, every GPU operation timed by CUDA events; the host's merge of\n"
                "# the chunks' statistics per row, median over the runs)\n# %-14s", "stage");
    for (const auto& [mode, st] : stages) std::printf(" %13s %6s", mode.c_str(), "share");
    std::printf("\n");
    // Stages in order of first appearance over the columns.
    std::vector<std::string> names;
    for (const auto& [mode, st] : stages)
      for (const auto& [name, ms] : st)
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    names.push_back("total");
    for (const std::string& name : names) {
      std::printf("  %-14s", name.c_str());
      for (const auto& [mode, st] : stages) {
        double total = 0, ms = 0;
        for (const auto& [n, v] : st) {
          total += v;
          if (n == name) ms = v;
        }
        if (name == "total") ms = total;
        std::printf(" %13.3f %5.1f%%", ms, 100 * ms / total);
      }
      std::printf("\n");
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Benchmarks that check their results: gemm (the matmul ceiling), forward, decode");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--backend", args->backend, "cuda (default) or cpu");
    c->add_option("--warmup", args->warmup, "untimed runs first (default 2)")->check(CLI::NonNegativeNumber);
    c->add_option("--iters", args->iters, "timed runs; the median is reported (default 10)")->check(CLI::PositiveNumber);
    c->add_option("--gemm", args->gemm, "square bf16 GEMM size for the ceiling (default 8192; 0: skip in forward)")
        ->check(CLI::NonNegativeNumber);
  };
  CLI::App* gemm = cmd->add_subcommand("gemm", "bf16 GEMM through the backend's linear layer, checked in fp64");
  common(gemm);
  gemm->add_option("--formats", args->lowbit.formats,
                   "weight-only formats for the low-bit GEMM table against bf16, e.g. w4a16-g128,nf4-g64 "
                   "(default: none, the square bf16 ceiling)")
      ->delimiter(',');
  gemm->add_option("--shapes", args->lowbit.shapes, "llama3-70b (default), llama3-8b, llama:<hidden>x<kv>x<ffn>, or <out>x<in>, comma-separated")
      ->delimiter(',');
  gemm->add_option("--rows", args->lowbit.rows, "row counts M (default 1,4,16,64,256,4096,16384)")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  gemm->add_option("--samples", args->lowbit.iters, "timed samples per row of the table (default 5)")
      ->check(CLI::Range(1, 1000));
  gemm->callback([args] { ExitOnError(RunBench("gemm", *args)); });
  CLI::App* fwd = cmd->add_subcommand("forward", "The model forward to log-probs of every position, per-stage times");
  common(fwd);
  fwd->add_option("--model", args->model, "checkpoint (default synthetic:llama3-8b)");
  fwd->add_option("--scheme", args->scheme, "weights (default bf16)");
  fwd->add_option("--batch", args->batch, "sequences per forward (default 4)")->check(CLI::PositiveNumber);
  fwd->add_option("--seq", args->seq, "tokens per sequence (default 2048)")->check(CLI::Range(2, 1 << 20));
  fwd->add_option("--head-rows", args->head_rows, "rows of logits at a time (default 2048)")->check(CLI::PositiveNumber);
  fwd->add_option("--topk", args->topk, "top-k per row, as runs store (default 32)")->check(CLI::Range(0, 64));
  fwd->add_option("--reduction", args->reduction,
                  "row-parallel sums: tp_invariant, fast, or both side by side (default; fast is checked against "
                  "tp_invariant)")
      ->check(CLI::IsMember({"tp_invariant", "fast", "both"}));
  fwd->add_flag("!--no-stages", args->stages, "skip the per-stage timing pass");
  fwd->add_flag("--exact-token-stats", args->exact_stats,
                "also time each forward with exact token statistics against a baseline (its cost as a ratio)");
  fwd->callback([args] { ExitOnError(RunBench("forward", *args)); });
  CLI::App* dec = cmd->add_subcommand("decode", "Greedy decoding with a KV cache: time to first token, ms per step");
  common(dec);
  dec->add_option("--model", args->decode.model, "checkpoint (default synthetic:llama3-8b)");
  dec->add_option("--schemes", args->decode.schemes, "weight formats (default bf16,w4a16-g128)")->delimiter(',');
  dec->add_option("--batches", args->decode.batches, "sequences decoded together (default 1,8,32)")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  dec->add_option("--contexts", args->decode.contexts, "prompt tokens before decoding (default 512,2048)")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  dec->add_option("--steps", args->decode.steps, "decode steps timed (default 32)")->check(CLI::Range(1, 100000));
  dec->callback([args] { ExitOnError(RunBench("decode", *args)); });
}

}  // namespace qsweep::cli
