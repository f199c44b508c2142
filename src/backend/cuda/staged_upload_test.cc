// StagedUpload (pinned double-buffered host-to-device copies) and the dense
// bf16 layers made through it (CudaBackend::CreateDenseBf16), against plain
// copies and the layers of CreateLinear. Runs on the GPU machine.
#include "backend/cuda/staged_upload.h"

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/cuda_backend.h"
#include "core/dtype.h"

namespace qsweep {
namespace {

bool HasGpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

// Rows of `row_bytes` whose bytes say their row and column.
void Pattern(int64_t begin, int64_t end, int64_t row_bytes, void* host) {
  auto* p = static_cast<uint8_t*>(host);
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < row_bytes; ++c) p[(r - begin) * row_bytes + c] = static_cast<uint8_t>(r * 31 + c * 7);
}

TEST(StagedUploadTest, EveryBlockArrivesWhereItBelongs) {
  if (!HasGpu()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine";
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  {
    // Buffers of 1000 bytes: 83 rows of 12 per block, both buffers reused
    // many times; then rows larger than a buffer; then one short block.
    StagedUpload up(stream, 1000);
    for (const auto& [rows, row_bytes] : {std::pair<int64_t, int64_t>{1037, 12}, {5, 3000}, {3, 7}}) {
      void* dst = nullptr;
      ASSERT_EQ(cudaMalloc(&dst, rows * row_bytes), cudaSuccess);
      int64_t calls = 0, last_end = 0;
      const absl::Status st = up.Copy(dst, rows, row_bytes, [&](int64_t begin, int64_t end, void* host) {
        EXPECT_EQ(begin, last_end);  // in order, without gaps
        last_end = end;
        ++calls;
        Pattern(begin, end, row_bytes, host);
        return absl::OkStatus();
      });
      ASSERT_TRUE(st.ok()) << st;
      EXPECT_EQ(last_end, rows);
      EXPECT_EQ(calls, (rows + std::max<int64_t>(1, 1000 / row_bytes) - 1) / std::max<int64_t>(1, 1000 / row_bytes));
      std::vector<uint8_t> got(rows * row_bytes), want(rows * row_bytes);
      Pattern(0, rows, row_bytes, want.data());
      ASSERT_EQ(cudaMemcpy(got.data(), dst, got.size(), cudaMemcpyDeviceToHost), cudaSuccess);  // after the stream's copies
      EXPECT_EQ(got, want) << rows << " rows of " << row_bytes;
      cudaFree(dst);
    }
    // The producer's error ends the copy and is returned as it is.
    void* dst = nullptr;
    ASSERT_EQ(cudaMalloc(&dst, 4000), cudaSuccess);
    const absl::Status st = up.Copy(dst, 1000, 4, [&](int64_t begin, int64_t end, void* host) {
      if (begin >= 500) return absl::DataLossError("row 500 is damaged");
      Pattern(begin, end, 4, host);
      return absl::OkStatus();
    });
    EXPECT_EQ(st, absl::DataLossError("row 500 is damaged"));
    cudaDeviceSynchronize();
    cudaFree(dst);
  }
  cudaStreamDestroy(stream);
}

// A dense bf16 layer of several parts made from row blocks computes what
// the layer made from the same values' PackedLinear does, bit for bit.
TEST(StagedUploadTest, DenseBf16LayersEqualThoseOfCreateLinear) {
  auto made = CudaBackend::Create();
  if (!made.ok()) GTEST_SKIP() << "no GPU here: these tests run on the GPU machine (" << made.status() << ")";
  CudaBackend& gpu = **made;
  gpu.SetModelPrecision(DType::kBF16);
  const int64_t count = 3, out = 96, width = 160, rows = 37;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<uint16_t> bits(count * out * width);
  for (auto& b : bits) b = FloatToBF16(normal(rng));
  auto fill = [&](int64_t p, int64_t begin, int64_t end, std::span<uint16_t> dst) {
    EXPECT_EQ(dst.size(), static_cast<size_t>((end - begin) * width));
    std::memcpy(dst.data(), bits.data() + (p * out + begin) * width, dst.size() * 2);
    return absl::OkStatus();
  };
  auto staged = gpu.CreateDenseBf16("w", LinearRole::kProjection, count, out, width, fill);
  ASSERT_TRUE(staged.ok()) << staged.status();
  std::vector<std::unique_ptr<PackedLinear>> parts;
  for (int64_t p = 0; p < count; ++p) {
    std::vector<float> w(out * width);
    for (int64_t i = 0; i < out * width; ++i) w[i] = BF16ToFloat(bits[p * out * width + i]);
    parts.push_back(*QuantizeLinear(WeightFormat::Dense(16), std::move(w), out, width));
  }
  auto plain = gpu.CreateLinearParts("w", std::move(parts));
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::vector<float> x(rows * width);
  for (float& v : x) v = RoundBF16(normal(rng));
  Act xa = *gpu.Alloc(rows, width, ActRole::kCompute), ya = *gpu.Alloc(rows, out, ActRole::kCompute),
      yb = *gpu.Alloc(rows, out, ActRole::kCompute);
  gpu.UploadTo(x, xa);
  for (int64_t p = 0; p < count; ++p) {
    gpu.Matmul(*(*staged)[p], xa, ya);
    gpu.Matmul(*(*plain)[p], xa, yb);
    const std::vector<float> a = gpu.Download(ya), b = gpu.Download(yb);
    EXPECT_EQ(a, b) << "part " << p;
    EXPECT_NE(a, std::vector<float>(a.size(), 0.0f));
  }
  // One part: a plain layer of its role. A producer's error is the result.
  auto head = gpu.CreateDenseBf16("head", LinearRole::kHead, 1, out, width,
                                  [&](int64_t, int64_t, int64_t, std::span<uint16_t>) {
                                    return absl::InvalidArgumentError("bad head");
                                  });
  EXPECT_EQ(head.status(), absl::InvalidArgumentError("bad head"));
  for (Act* a : {&xa, &ya, &yb}) gpu.Free(*a);
}

}  // namespace
}  // namespace qsweep
