// Content ids cover every weight byte (#19: two weight files of one size
// must not share an id), the large-buffer hash does not depend on the
// threads, and the cache of large checkpoints' digests is used only while
// the files are unchanged and survives damage.
#include <omp.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/checkpoint.h"
#include "model/content_hash.h"
#include "model/content_id_cache.h"
#include "test_paths.h"

namespace qsweep {
namespace {

uint64_t LargeDigest(const std::vector<unsigned char>& b, size_t chunk) {
  ContentHasher h;
  h.UpdateLarge(b.data(), b.size(), chunk);
  return h.Digest();
}

TEST(ContentHash, EveryByteOfALargeBufferCounts) {
  std::vector<unsigned char> b(10'007);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(i * 131 + 7);
  const size_t chunk = 1000;
  const uint64_t base = LargeDigest(b, chunk);
  for (const size_t at : {size_t{0}, size_t{31}, size_t{32}, size_t{999}, size_t{1000}, size_t{5555}, size_t{9983},
                          size_t{10'000}, b.size() - 1}) {
    std::vector<unsigned char> c = b;
    c[at] ^= 1;
    EXPECT_NE(LargeDigest(c, chunk), base) << "byte " << at;
  }
  std::vector<unsigned char> longer = b;
  longer.push_back(0);
  EXPECT_NE(LargeDigest(longer, chunk), base);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  EXPECT_EQ(LargeDigest(b, chunk), base);
  omp_set_num_threads(threads);
}

class ContentIdCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs them side by side.
    dir_ = testing::ScratchDir(std::string("content_id_cache_") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    const char* old = std::getenv("QSWEEP_CACHE_DIR");
    saved_ = old ? old : "";
    had_ = old != nullptr;
    setenv("QSWEEP_CACHE_DIR", (dir_ / "cache").c_str(), 1);
    file_ = (dir_ / "weights.bin").string();
    std::ofstream(file_) << "some weights";
  }
  void TearDown() override {
    if (had_) setenv("QSWEEP_CACHE_DIR", saved_.c_str(), 1);
    else unsetenv("QSWEEP_CACHE_DIR");
  }
  uint64_t Digest(uint64_t value) {
    return CachedBytesDigest("test v1", {file_}, [&] {
      ++computed_;
      return value;
    });
  }
  std::filesystem::path dir_;
  std::string file_, saved_;
  bool had_ = false;
  int computed_ = 0;
};

TEST_F(ContentIdCacheTest, ADigestIsReusedWhileTheFilesAreUnchanged) {
  EXPECT_EQ(Digest(0x1234), 0x1234u);
  EXPECT_EQ(Digest(0x9999), 0x1234u) << "from the cache";
  EXPECT_EQ(computed_, 1);
  // Rewritten (another size and time): recomputed.
  std::ofstream(file_) << "other weights, longer";
  EXPECT_EQ(Digest(0x5678), 0x5678u);
  EXPECT_EQ(computed_, 2);
  // Same size, another modification time: recomputed.
  std::filesystem::last_write_time(file_, std::filesystem::last_write_time(file_) + std::chrono::seconds(5));
  EXPECT_EQ(Digest(0xabcd), 0xabcdu);
  EXPECT_EQ(computed_, 3);
  // Another computation of the same files has its own key.
  EXPECT_EQ(CachedBytesDigest("test v2", {file_}, [] { return uint64_t{42}; }), 42u);
}

TEST_F(ContentIdCacheTest, ADamagedOrUnwritableCacheOnlyCostsTime) {
  EXPECT_EQ(Digest(0x1234), 0x1234u);
  {
    std::ofstream damage(ContentIdCachePath(), std::ios::app);
    damage << "garbage\n" << std::string(16, 'z') << " 0000000000000001\n\x01\x02\n";
  }
  EXPECT_EQ(Digest(0x7777), 0x1234u) << "the good line still counts";
  EXPECT_EQ(computed_, 1);
  std::filesystem::remove_all(dir_ / "cache");
  std::ofstream(dir_ / "cache") << "a file where the folder should be";
  EXPECT_EQ(Digest(0x4444), 0x4444u);
  EXPECT_EQ(Digest(0x5555), 0x5555u) << "nothing cached, nothing failed";
  EXPECT_EQ(computed_, 3);
  EXPECT_EQ(CachedBytesDigest("test v1", {(dir_ / "missing").string()}, [] { return uint64_t{9}; }), 9u);
}

// Two safetensors checkpoints of the same size whose weights differ in one
// byte (the last weight, far from any sample a sampled id would take) get
// different ids.
TEST(ContentId, OneWeightByteChangesTheCheckpointsId) {
  const std::filesystem::path src = testing::RepoTestData("tiny/model"), dir = testing::ScratchDir("content_id_byte");
  for (const char* f : {"config.json", "model.safetensors"}) std::filesystem::copy_file(src / f, dir / f);
  auto a = OpenCheckpoint(dir.string());
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string before = (*a)->content_id();
  a->reset();
  const auto size = std::filesystem::file_size(dir / "model.safetensors");
  {
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size - 2));
    char c = 0;
    f.read(&c, 1);
    c ^= 1;  // a low mantissa bit of the last bf16 / fp32 weight
    f.seekp(static_cast<std::streamoff>(size - 2));
    f.write(&c, 1);
  }
  auto b = OpenCheckpoint(dir.string());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(std::filesystem::file_size(dir / "model.safetensors"), size);
  EXPECT_NE((*b)->content_id(), before);
}

// A llama2.c file past the size hashed byte by byte (64 MiB): one byte in
// the middle, far from the first and last MiB a sampled id would read,
// changes the id; reopening the unchanged file takes the cached digest.
TEST_F(ContentIdCacheTest, OneByteInTheMiddleOfALargeFileChangesItsId) {
  const std::filesystem::path path = dir_ / "large.bin";
  const int32_t d = 1024, hid = 64, l = 1, nh = 8, nkv = 8, v = 16384, s = 16;
  const int64_t floats = int64_t{v} * d + l * d + 4 * l * d * d + l * d + 3 * l * hid * d + d + 2 * s * (d / nh) / 2;
  {
    std::ofstream out(path, std::ios::binary);
    for (const int32_t x : {d, hid, l, nh, nkv, v, s}) out.write(reinterpret_cast<const char*>(&x), 4);
    const std::vector<float> values(floats, 0.25f);
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(floats * 4));
  }
  ASSERT_GT(std::filesystem::file_size(path), uintmax_t{64} << 20);
  auto first = OpenCheckpoint(path.string());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(std::filesystem::exists(ContentIdCachePath())) << "opening does not hash: the id is made on first use";
  const std::string id = (*first)->content_id();
  EXPECT_TRUE(std::filesystem::exists(ContentIdCachePath()));
  EXPECT_EQ((*first)->content_id(), id);
  first->reset();
  auto again = OpenCheckpoint(path.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->content_id(), id);
  again->reset();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(path) / 2));
    f.write("\x01", 1);
  }
  auto changed = OpenCheckpoint(path.string());
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE((*changed)->content_id(), id);
  std::ifstream cache(ContentIdCachePath());
  int lines = 0;
  for (std::string line; std::getline(cache, line);) ++lines;
  EXPECT_EQ(lines, 2) << "one digest per version of the file";
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace qsweep
