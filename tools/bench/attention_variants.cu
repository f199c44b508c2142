// Times instances of the tensor-core attention kernels (kernels/attention_wgmma.cu,
// wgmma; kernels/attention_bf16.cu, mma.sync) at the benchmark's shape
// (Llama-3-8B heads over 4 x 2048 causal tokens) and checks each against the
// mma.sync kernel's chosen instance: the numbers behind the choices. The
// wgmma rows include transposing V, as the backend runs them. Build: make
// attention_variants (a CUDA build); run on the GPU.
#include "../../kernels/attention_bf16.cu"
#include "../../kernels/attention_wgmma.cu"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace qsweep::kernels {
namespace {

#define CHECK_CUDA(x)                                                              \
  do {                                                                             \
    if (cudaError_t e = (x); e != cudaSuccess) {                                   \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e)); \
      std::exit(1);                                                                \
    }                                                                              \
  } while (0)

struct Problem {
  int64_t rows, hq, hkv;
  bf16 *q, *k, *v;
  int64_t *sb, *pe, *bb;
  QueryBlocks blocks;  // query_blocks.h, on the device
  double flops;
};

// Median of 15 timed runs after 3 warm-up ones.
template <typename F>
double MedianMs(F run) {
  for (int i = 0; i < 3; ++i) run();
  CHECK_CUDA(cudaGetLastError());
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ms;
  for (int i = 0; i < 15; ++i) {
    cudaEventRecord(a);
    run();
    cudaEventRecord(b);
    CHECK_CUDA(cudaEventSynchronize(b));
    float t;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

template <typename C>
double TimeMs(const Problem& p, bf16* out) {
  return MedianMs([&] { Launch<C>(p.q, p.k, p.v, p.blocks, p.sb, p.pe, p.bb, p.hq, p.hkv, out, 0); });
}

template <typename C>
double TimeWgmmaMs(const Problem& p, bf16* vt, bf16* out) {
  const int64_t stride = TransposedStride(p.rows);
  return MedianMs([&] {
    TransposeKv(p.v, p.rows, p.hkv * C::HD, vt, 0);
    LaunchWgmma<C>(p.q, p.k, vt, p.blocks, stride, p.sb, p.pe, p.bb, p.hq, p.hkv, out, 0);
  });
}

// The largest |a - b|; infinite where either is not finite (an output the
// kernel never wrote keeps its NaN fill).
float MaxDiff(const std::vector<bf16>& a, const std::vector<bf16>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const float d = std::fabs(__bfloat162float(a[i]) - __bfloat162float(b[i]));
    m = std::isfinite(d) ? std::max(m, d) : INFINITY;
  }
  return m;
}

// Outputs are bf16 of values within [-4, 4] here: a few ulps of difference
// between instances (another summation order) and nothing more.
constexpr float kTolerance = 2e-2f;
bool failed = false;

void Report(const char* name, const Problem& p, double ms, float diff, const char* against) {
  const bool ok = diff <= kTolerance;
  failed = failed || !ok;
  std::printf("  %-34s %8.3f ms %7.1f TFLOP/s   max |diff| vs %s %.3g%s\n", name, ms, p.flops / ms / 1e9, against,
              diff, ok ? "" : "  FAIL");
}

template <typename C>
void Row(const char* name, const Problem& p, bf16* out, const std::vector<bf16>& want) {
  CHECK_CUDA(cudaMemset(out, 0xff, want.size() * 2));  // NaN until written
  const double ms = TimeMs<C>(p, out);
  std::vector<bf16> got(want.size());
  CHECK_CUDA(cudaMemcpy(got.data(), out, got.size() * 2, cudaMemcpyDeviceToHost));
  Report(name, p, ms, MaxDiff(got, want), "chosen");
}

template <typename C>
void WgmmaRow(const char* name, const Problem& p, bf16* vt, bf16* out, const std::vector<bf16>& want) {
  CHECK_CUDA(cudaMemset(out, 0xff, want.size() * 2));  // NaN until written
  const double ms = TimeWgmmaMs<C>(p, vt, out);
  std::vector<bf16> got(want.size());
  CHECK_CUDA(cudaMemcpy(got.data(), out, got.size() * 2, cudaMemcpyDeviceToHost));
  Report(name, p, ms, MaxDiff(got, want), "mma.sync");
}

}  // namespace
}  // namespace qsweep::kernels

int main() {
  using namespace qsweep::kernels;
  constexpr int HD = 128;
  Problem p{4 * 2048, 32, 8};
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  auto upload = [&](int64_t n) {
    std::vector<bf16> h(n);
    for (auto& x : h) x = __float2bfloat16(nd(rng));
    bf16* d;
    CHECK_CUDA(cudaMalloc(&d, n * 2));
    CHECK_CUDA(cudaMemcpy(d, h.data(), n * 2, cudaMemcpyHostToDevice));
    return d;
  };
  p.q = upload(p.rows * p.hq * HD);
  p.k = upload(p.rows * p.hkv * HD);
  p.v = upload(p.rows * p.hkv * HD);
  std::vector<int64_t> sb(p.rows);
  p.flops = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    sb[r] = r / 2048 * 2048;
    p.flops += 4.0 * HD * p.hq * (r - sb[r] + 1);
  }
  for (int64_t** d : {&p.sb, &p.pe, &p.bb}) {
    CHECK_CUDA(cudaMalloc(d, p.rows * 8));
    CHECK_CUDA(cudaMemcpy(*d, sb.data(), p.rows * 8, cudaMemcpyHostToDevice));
  }
  for (int i = 0; i < QueryBlocks::kHeights; ++i) {
    const std::vector<QueryBlock> b = SequenceQueryBlocks(sb, 16 << i);
    QueryBlock* d;
    CHECK_CUDA(cudaMalloc(&d, std::max<size_t>(1, b.size()) * sizeof(QueryBlock)));
    CHECK_CUDA(cudaMemcpy(d, b.data(), b.size() * sizeof(QueryBlock), cudaMemcpyHostToDevice));
    p.blocks.table[i] = d;
    p.blocks.count[i] = static_cast<int64_t>(b.size());
  }
  bf16* out;
  CHECK_CUDA(cudaMalloc(&out, p.rows * p.hq * HD * 2));
  Launch<Chosen<HD>>(p.q, p.k, p.v, p.blocks, p.sb, p.pe, p.bb, p.hq, p.hkv, out, 0);
  std::vector<bf16> want(p.rows * p.hq * HD);
  CHECK_CUDA(cudaMemcpy(want.data(), out, want.size() * 2, cudaMemcpyDeviceToHost));
  std::printf("# attention variants, 4x2048 causal, 32 q / 8 kv heads, hd 128 (Config<hd, warps, 16-row tiles per warp, keys, q in regs, min blocks>)\n");
  bf16* vt;
  CHECK_CUDA(cudaMalloc(&vt, AttentionWgmmaScratchBytes(p.rows, p.hkv, HD)));
  std::printf("# wgmma (WgConfig<hd, warpgroups of 64 rows, keys, min blocks, stages>), V transposed each run\n");
  WgmmaRow<WgConfig<HD, 2, 64, 2>>("wgmma wg 2 keys 64 min 2", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 2, 64, 1>>("wgmma wg 2 keys 64 min 1", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 1, 64, 2>>("wgmma wg 1 keys 64 min 2", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 1, 128, 1>>("wgmma wg 1 keys 128 min 1", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 2, 128, 1>>("wgmma wg 2 keys 128 min 1", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 1, 64, 4, 1>>("wgmma wg 1 keys 64 min 4 stages 1", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 1, 64, 3, 1>>("wgmma wg 1 keys 64 min 3 stages 1", p, vt, out, want);
  WgmmaRow<WgConfig<HD, 2, 64, 2, 1>>("wgmma wg 2 keys 64 min 2 stages 1", p, vt, out, want);
  std::printf("# mma.sync (Config<...>)\n");
  Row<Config<HD, 4, 1, 64, true, 2>>("warps 4 mt 1 keys 64 q-regs min 2", p, out, want);
  Row<Config<HD, 4, 1, 64, false, 2>>("warps 4 mt 1 keys 64 q-smem min 2", p, out, want);
  Row<Config<HD, 4, 2, 64, false, 1>>("warps 4 mt 2 keys 64 q-smem min 1", p, out, want);
  if (failed) std::printf("FAIL: an instance differs from the mma.sync kernel by more than %g\n", kTolerance);
  return failed ? 1 : 0;
}
