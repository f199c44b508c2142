// Decode speed: per scheme, batch and context, a prefill of random prompts
// (the time to first token) and then greedy decode steps over the KV cache,
// each step one forward of a row per sequence (ms per step, tokens/s).
//
// The floor a decode step is set against is the time to read the weights
// once: the bytes the backend holds for them (packed layers at their packed
// size; not the embedding table, of which a step reads one row per
// sequence) over the bandwidth the backend's bf16 product streams a large
// layer at with one row, measured in the same process.
//
// Checked before a time counts: every step's top-1 log-probability is
// finite, and the first step's tokens equal those of recomputing each
// sequence whole (prompt + first token) without the cache, within a near
// tie (the cache kernel and the prefill's attention add in another order).
#include "cli/bench_decode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "absl/strings/str_format.h"
#include "cli/bench_timing.h"
#include "core/status_macros.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/row_scores.h"
#include "quant/packed_linear.h"
#include "quant/scheme.h"

namespace qsweep::cli {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Bytes per second the backend's own bf16 product streams weights at with
// one row (a 28672 x 16384 layer, 0.94 GB, read once per product): the
// bandwidth a decode step's weight reads can reach.
absl::StatusOr<double> StreamBandwidth(Backend& b) {
  const int64_t out = 28672, in = 16384;
  std::vector<float> w(out * in);
  uint32_t state = 1;
  for (float& x : w) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) / (1 << 23) * 0.05f;
  }
  b.SetModelPrecision(DType::kBF16);
  QSWEEP_ASSIGN_OR_RETURN(auto packed, QuantizeLinear(WeightFormat::Dense(16), std::move(w), out, in));
  QSWEEP_ASSIGN_OR_RETURN(auto layer, b.CreateLinear("model.layers.0.mlp.up_proj.weight", LinearRole::kProjection,
                                                     std::move(packed)));
  QSWEEP_ASSIGN_OR_RETURN(Act x, b.Alloc(1, in, ActRole::kCompute, "the bandwidth product"));
  auto y_or = b.Alloc(1, out, ActRole::kAccumulate, "the bandwidth product");
  if (!y_or.ok()) {
    b.Free(x);
    return y_or.status();
  }
  Act y = *y_or;
  b.UploadTo(std::vector<float>(in, 0.5f), x);
  b.SetBatchInvariant(false);
  std::vector<double> ms;
  for (int i = 0; i < 12; ++i) {
    b.Synchronize();
    const auto t0 = Clock::now();
    for (int k = 0; k < 4; ++k) b.Matmul(*layer, x, y);
    b.Synchronize();
    if (i >= 2) ms.push_back(MsSince(t0) / 4);
  }
  b.SetBatchInvariant(true);
  const std::vector<float> got = b.Download(y);
  b.Free(x);
  b.Free(y);
  for (float v : got)
    if (!std::isfinite(v)) return absl::InternalError("bandwidth product check failed: a non-finite output");
  return double(out * in * 2) / (Median(ms) / 1e3);
}

struct Step {
  std::vector<int32_t> next;     // [rows, k]
  std::vector<float> logprob;    // [rows, k]
};

absl::StatusOr<Step> TopK(Decoder& d, const TokenBatch& batch, std::span<const int64_t> rows, int k = 1) {
  std::vector<LogitStats> chunks;
  const std::vector<int32_t> targets(rows.size(), 0);
  QSWEEP_RETURN_IF_ERROR(d.Forward(batch, rows, targets, k, false, &chunks));
  const RowScores s = CombineLogitStats(chunks, k, false);
  return Step{s.topk_id, s.topk_logprob};
}

struct Case {
  double ttft_ms = 0, step_ms = 0;
  std::string check;
  bool failed = false;
  std::vector<std::pair<std::string, double>> stages;  // one step's, when asked for
};

// One batch x context: prefill, then `steps` decode steps.
absl::StatusOr<Case> RunCase(Decoder& d, int64_t batch, int64_t context, int steps, std::mt19937& rng,
                             bool stage_times) {
  const int64_t vocab = d.config().vocab_size, span = context + steps;
  std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(context));
  for (auto& p : prompts)
    for (auto& t : p) t = static_cast<int32_t>(rng() % vocab);
  // Prefill as many prompts per forward as the batch holds.
  Case out;
  std::vector<int32_t> last(batch);
  std::vector<float> first_lp(batch);
  d.backend()->Synchronize();
  const auto t0 = Clock::now();
  const int64_t per_forward = std::max<int64_t>(1, d.options().max_batch_tokens / context);
  for (int64_t s0 = 0; s0 < batch; s0 += per_forward) {
    TokenBatch pre;
    std::vector<int64_t> rows;
    for (int64_t s = s0; s < std::min(batch, s0 + per_forward); ++s) {
      const int64_t first = pre.AddSequence(prompts[s]);
      rows.push_back(first + context - 1);
    }
    pre.layout.cache_row.assign(pre.rows(), -1);
    for (int64_t s = s0, i = 0; s < std::min(batch, s0 + per_forward); ++s, ++i)
      for (int64_t p = 0; p < context; ++p) pre.layout.cache_row[rows[i] - (context - 1) + p] = s * span + p;
    QSWEEP_ASSIGN_OR_RETURN(Step st, TopK(d, pre, rows));
    for (size_t i = 0; i < rows.size(); ++i) last[s0 + i] = st.next[i];
  }
  out.ttft_ms = MsSince(t0);
  std::vector<int32_t> first_tokens = last;
  std::vector<double> ms;
  std::vector<int32_t> step1;
  for (int k = 0; k < steps; ++k) {
    TokenBatch step;
    SequenceLayout& l = step.layout;
    std::vector<int64_t> rows(batch);
    for (int64_t s = 0; s < batch; ++s) {
      step.tokens.push_back(last[s]);
      l.positions.push_back(static_cast<int32_t>(context + k));
      l.seq_begin.push_back(s);
      l.prefix_end.push_back(s);
      l.branch_begin.push_back(s);
      l.cache_row.push_back(s * span + context + k);
      l.cache_begin.push_back(s * span);
      rows[s] = s;
    }
    const bool timed_stages = stage_times && k == steps - 1;
    if (timed_stages) {
      d.backend()->EnableStageTimes(true);
      d.backend()->StageMillis();
    }
    const auto t1 = Clock::now();
    QSWEEP_ASSIGN_OR_RETURN(Step st, TopK(d, step, rows));
    if (timed_stages) {
      out.stages = d.backend()->StageMillis();
      d.backend()->EnableStageTimes(false);
    } else {
      ms.push_back(MsSince(t1));
    }
    for (int64_t s = 0; s < batch; ++s)
      if (!std::isfinite(st.logprob[s])) {
        // The same step again with the batch-invariant kernels (it writes
        // the same cache rows): whether the row-count kernels are at fault.
        d.backend()->SetBatchInvariant(true);
        absl::StatusOr<Step> again = TopK(d, step, rows);
        d.backend()->SetBatchInvariant(false);
        out.check = absl::StrFormat("step %d row %d log p %g; with the batch-invariant kernels %s (FAILED)", k, s,
                                    st.logprob[s],
                                    !again.ok() ? std::string(again.status().message())
                                                : absl::StrFormat("log p %g", again->logprob[s]));
        out.failed = true;
        return out;
      }
    if (k == 0) step1 = st.next;
    last = st.next;
  }
  out.step_ms = Median(ms);
  if (out.failed) return out;
  // Recompute: prompt + first token whole, without the cache, for up to 4
  // sequences. The two attention kernels add in other orders, so a token may
  // differ where the recomputation's two best are a near tie (random
  // weights make many).
  const int64_t n = std::min<int64_t>(batch, std::max<int64_t>(1, std::min<int64_t>(4, d.options().max_batch_tokens / (context + 1))));
  int agree = 0;
  for (int64_t s = 0; s < n; ++s) {
    TokenBatch whole;
    std::vector<int32_t> seq = prompts[s];
    seq.push_back(first_tokens[s]);
    whole.AddSequence(seq);
    const std::vector<int64_t> rows = {context};
    QSWEEP_ASSIGN_OR_RETURN(Step st, TopK(d, whole, rows, 2));
    agree += st.next[0] == step1[s] || (st.next[1] == step1[s] && st.logprob[0] - st.logprob[1] < 0.05f);
  }
  out.check = absl::StrFormat("first step = recompute %d/%d", agree, n);
  if (agree < n) {
    out.check += " (FAILED)";
    out.failed = true;
  }
  return out;
}

}  // namespace

absl::Status BenchDecode(Backend& b, const DecodeBenchArgs& a) {
  QSWEEP_ASSIGN_OR_RETURN(auto ckpt, OpenCheckpoint(a.model));
  std::vector<SchemeSpec> specs;
  for (const std::string& name : a.schemes) {
    QSWEEP_ASSIGN_OR_RETURN(SchemeSpec spec, ResolveScheme(name));
    specs.push_back(spec);
  }
  // A backend that does not count its weight bytes has no floor to set against.
  double bandwidth = 0;
  if (b.WeightBytes() >= 0) {
    QSWEEP_ASSIGN_OR_RETURN(bandwidth, StreamBandwidth(b));
  }
  const int64_t max_batch = *std::max_element(a.batches.begin(), a.batches.end());
  const int64_t max_context = *std::max_element(a.contexts.begin(), a.contexts.end());
  std::printf("# qsweep bench decode on %s: %s, greedy, KV cache; median of %d steps; %s\n", b.DeviceName().c_str(),
              a.model.c_str(), a.steps,
              bandwidth > 0 ? absl::StrFormat("weights stream at %.2f TB/s (bf16, one row)", bandwidth / 1e12).c_str()
                            : "no weight-read floor (the backend does not count its weight bytes)");
  std::printf("# %-12s %5s %7s %10s %10s %11s %10s %9s  %s\n", "scheme", "batch", "context", "ttft_ms", "ms/step",
              "tokens/s", "floor_ms", "of_floor", "check");
  bool failed = false;
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, double>>>> stages;
  for (size_t si = 0; si < a.schemes.size(); ++si) {
    const std::string& name = a.schemes[si];
    const SchemeSpec& scheme = specs[si];
    const int64_t before = b.WeightBytes();
    auto dec = Decoder::Load(*ckpt, &b,
                             {.scheme = scheme,
                              .tp_invariant = false,
                              .max_batch_tokens = std::max<int64_t>(max_context + 1, 8192),
                              .max_head_rows = std::max<int64_t>(max_batch, 64),
                              .cache_rows = max_batch * (max_context + a.steps)});
    if (!dec.ok()) return dec.status();
    b.SetBatchInvariant(false);  // the kernel for each row count, as a deployment picks it
    // The bytes a step reads: every linear layer's and the head's (the
    // backend's count; the embedding table, of which a step reads a row per
    // sequence, and the norm vectors are not in it).
    const double weights = double(b.WeightBytes() - before);
    const double floor_ms = weights / bandwidth * 1e3;
    std::mt19937 rng(7);
    for (const int64_t context : a.contexts) {
      for (const int64_t batch : a.batches) {
        const bool first = context == a.contexts.front() && batch == a.batches.front();
        QSWEEP_ASSIGN_OR_RETURN(Case r, RunCase(**dec, batch, context, a.steps, rng, first));
        failed |= r.failed;
        if (!r.stages.empty()) stages.emplace_back(absl::StrFormat("%s b%d c%d", name, batch, context), r.stages);
        const bool counted = before >= 0 && weights > 0;
        std::printf("  %-12s %5d %7d %10.2f %10.3f %11.0f %10s %9s  %s\n", name.c_str(), static_cast<int>(batch),
                    static_cast<int>(context), r.ttft_ms,
                    r.step_ms, batch * 1e3 / r.step_ms, counted ? absl::StrFormat("%.3f", floor_ms).c_str() : "-",
                    counted ? absl::StrFormat("%.2fx", r.step_ms / floor_ms).c_str() : "-", r.check.c_str());
        std::fflush(stdout);
      }
    }
    dec->reset();
    b.SetBatchInvariant(true);
  }
  if (!stages.empty()) {
    std::printf("#\n# per stage, ms (one decode step, every GPU operation timed by CUDA events)\n# %-14s", "stage");
    for (const auto& [what, st] : stages) std::printf(" %22s", what.c_str());
    std::printf("\n");
    std::vector<std::string> names;
    for (const auto& [what, st] : stages)
      for (const auto& [n, ms] : st)
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    for (const std::string& n : names) {
      std::printf("  %-14s", n.c_str());
      for (const auto& [what, st] : stages) {
        double ms = 0;
        for (const auto& [m, v] : st)
          if (m == n) ms = v;
        std::printf(" %22.3f", ms);
      }
      std::printf("\n");
    }
  }
  if (failed) return absl::InternalError("decode check failed (rows marked FAILED)");
  return absl::OkStatus();
}

}  // namespace qsweep::cli
