#include "model/content_id_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_format.h"
#include "model/content_hash.h"

namespace qsweep {
namespace {

constexpr size_t kMaxCacheBytes = size_t{16} << 20;  // past this, the cache is not read (nor grown)

bool IsHex16(const std::string& s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string ContentIdCachePath() {
  if (const char* d = std::getenv("QSWEEP_CACHE_DIR"); d && *d) return std::string(d) + "/content-ids";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/qsweep/content-ids";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/qsweep/content-ids";
  return "";
}

namespace {

// The key of a set of files (in any order), or nullopt when one cannot be
// examined; `kind` separates the digests of different computations.
std::optional<std::string> ContentIdKey(const std::string& kind, const std::vector<std::string>& paths) {
  std::vector<std::string> sorted;
  for (const std::string& p : paths) {
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(p, ec);
    if (ec) return std::nullopt;
    sorted.push_back(abs.lexically_normal().string());
  }
  std::sort(sorted.begin(), sorted.end());
  ContentHasher h;
  h.Update(std::string_view("content-id key"));
  h.Update(std::string_view(kind));
  for (const std::string& p : sorted) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return std::nullopt;
    h.Update(std::string_view(p));
    h.Update(static_cast<uint64_t>(st.st_size));
    h.Update(static_cast<uint64_t>(st.st_mtim.tv_sec));
    h.Update(static_cast<uint64_t>(st.st_mtim.tv_nsec));
    h.Update(static_cast<uint64_t>(st.st_ino));
  }
  return h.Hex();
}

std::optional<std::string> FindCachedDigest(const std::string& key) {
  const std::string path = ContentIdCachePath();
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec) ||
      std::filesystem::file_size(path, ec) > kMaxCacheBytes || ec)
    return std::nullopt;
  std::ifstream in(path);
  std::optional<std::string> found;
  std::string k, id;
  for (std::string line; std::getline(in, line);) {
    if (line.size() != 33 || line[16] != ' ') continue;
    k = line.substr(0, 16), id = line.substr(17);
    if (k == key && IsHex16(id)) found = id;  // the last line for a key wins
  }
  return found;
}

void StoreDigest(const std::string& key, const std::string& id) {
  const std::string path = ContentIdCachePath();
  if (path.empty() || !IsHex16(key) || !IsHex16(id)) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > kMaxCacheBytes) return;
  // One write of one short line with O_APPEND: concurrent ranks and jobs
  // append whole lines.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return;
  const std::string line = key + " " + id + "\n";
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

}  // namespace

uint64_t CachedBytesDigest(const std::string& kind, const std::vector<std::string>& paths,
                           const std::function<uint64_t()>& hash_bytes) {
  const std::optional<std::string> key = ContentIdKey(kind, paths);
  if (key) {
    if (const std::optional<std::string> hex = FindCachedDigest(*key))
      return std::stoull(*hex, nullptr, 16);  // IsHex16 checked it
  }
  const uint64_t digest = hash_bytes();
  if (key) StoreDigest(*key, absl::StrFormat("%016x", digest));
  return digest;
}

}  // namespace qsweep
