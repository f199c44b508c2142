#include "cli/bench_layer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "quant/packed_linear.h"

namespace qsweep::cli {

std::vector<float> RandomBf16(int64_t n, uint32_t seed) {
  std::vector<float> v(n);
  const int64_t block = 1 << 20;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < (n + block - 1) / block; ++b) {
    std::mt19937 rng(seed * 7919u + static_cast<uint32_t>(b));
    std::normal_distribution<float> d;
    for (int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) v[i] = RoundBF16(d(rng));
  }
  return v;
}

namespace {

// The layer at one row count: its activations, the check, the timing.
absl::StatusOr<double> LayerMicros(Backend& b, const LayerDims& d, std::span<const std::unique_ptr<Linear>> ls,
                                   int64_t rows, int iters) {
  // h: the normed input of q, k, v and of gate, up; q's output stands for
  // o's input and gate's for down's, as attention and SwiGLU would leave them.
  std::vector<Act> acts;
  auto free_all = [&] {
    for (Act& x : acts) b.Free(x);
  };
  for (int64_t cols : {d.hidden, d.hidden, d.kv, d.kv, d.hidden, d.ffn, d.ffn, d.hidden}) {
    auto a = b.Alloc(rows, cols, ActRole::kCompute, "the bench's layer activations");
    if (!a.ok()) {
      free_all();
      return a.status();
    }
    acts.push_back(*a);
  }
  Act &h = acts[0], &q = acts[1], &k = acts[2], &v = acts[3], &o = acts[4], &g = acts[5], &u = acts[6],
      &down = acts[7];
  b.UploadTo(RandomBf16(rows * d.hidden, 7), h);
  const Linear* qkv[] = {ls[0].get(), ls[1].get(), ls[2].get()};
  const Linear* gate_up[] = {ls[4].get(), ls[5].get()};
  auto layer = [&] {
    Act* qkv_out[] = {&q, &k, &v};
    b.MatmulSameInput(qkv, h, qkv_out);
    b.Matmul(*ls[3], q, o);
    Act* gate_up_out[] = {&g, &u};
    b.MatmulSameInput(gate_up, h, gate_up_out);
    b.Matmul(*ls[6], g, down);
  };

  // The shared products against each product alone (at the same row count,
  // so the same kernels), compared on their first rows.
  layer();
  const int64_t check = std::min<int64_t>(rows, 512);
  for (auto [group, outs, first] :
       {std::tuple{std::span<const Linear* const>(qkv), std::vector<Act*>{&q, &k, &v}, 0},
        std::tuple{std::span<const Linear* const>(gate_up), std::vector<Act*>{&g, &u}, 4}}) {
    for (size_t i = 0; i < group.size(); ++i) {
      auto alone = b.Alloc(rows, outs[i]->cols, ActRole::kCompute, "the bench's check");
      if (!alone.ok()) {
        free_all();
        return alone.status();
      }
      b.Matmul(*group[i], h, *alone);
      const std::vector<float> want = b.Download(alone->Rows(check)), got = b.Download(outs[i]->Rows(check));
      b.Free(*alone);
      if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) {
        free_all();
        return absl::InternalError(absl::StrFormat(
            "bench gemm: at M=%d the layer's product %d of a shared input differs from the same product alone", rows,
            first + i));
      }
    }
  }

  auto run = [&](int64_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) layer();
    b.Synchronize();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  };
  const double estimate = run(1);
  const int64_t n = std::clamp<int64_t>(static_cast<int64_t>(20000 / std::max(estimate, 1e-3)), 1, 400);
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) t.push_back(run(n));
  std::sort(t.begin(), t.end());
  free_all();
  return t[t.size() / 2];
}

}  // namespace

absl::StatusOr<std::vector<double>> DecoderOrderLayerMicros(Backend& b, const LayerDims& d, const WeightFormat& format,
                                                            std::span<const int64_t> rows, int iters) {
  struct Shape {
    int64_t out, in;
  };
  // q, k, v, o, gate, up, down
  const Shape shapes[] = {{d.hidden, d.hidden}, {d.kv, d.hidden},  {d.kv, d.hidden},  {d.hidden, d.hidden},
                          {d.ffn, d.hidden},    {d.ffn, d.hidden}, {d.hidden, d.ffn}};
  std::vector<std::unique_ptr<Linear>> ls;
  for (int i = 0; i < 7; ++i) {
    auto packed = QuantizeLinear(format, RandomBf16(shapes[i].out * shapes[i].in, 101 + i), shapes[i].out, shapes[i].in);
    if (!packed.ok()) return packed.status();
    auto l = b.CreateLinear("bench.gemm.layer", LinearRole::kProjection, *std::move(packed));
    if (!l.ok()) return l.status();
    ls.push_back(*std::move(l));
  }
  std::vector<double> out;
  for (int64_t m : rows) {
    auto t = LayerMicros(b, d, ls, m, iters);
    if (!t.ok()) return t.status();
    out.push_back(*t);
  }
  return out;
}

}  // namespace qsweep::cli
