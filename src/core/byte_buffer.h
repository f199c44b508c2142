// Flat little-endian serialization of scalars and vectors of trivially
// copyable values, for messages between ranks (same binary on every rank).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/status_macros.h"

namespace qsweep {

class ByteWriter {
 public:
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <typename T>
  void PutVector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put<uint64_t>(v.size());
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes_.insert(bytes_.end(), p, p + v.size() * sizeof(T));
  }
  void PutString(const std::string& s) { PutVector(std::vector<char>(s.begin(), s.end())); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Reads what ByteWriter wrote. Bytes this program sent itself (MPI
// messages) are trusted: reading past their end is a programmer error.
// Bytes from a file (a journal) are not: reading past the end marks the
// reader failed (ok() false) and yields zeros and empty vectors, without
// allocating what a corrupt length asks for.
class ByteReader {
 public:
  explicit ByteReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  static ByteReader Untrusted(const std::vector<uint8_t>& bytes) {
    ByteReader r(bytes);
    r.untrusted_ = true;
    return r;
  }
  template <typename T>
  T Get() {
    T v{};
    if (!Fits(sizeof(T), 1)) return v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> GetVector() {
    const uint64_t n = Get<uint64_t>();
    if (!Fits(sizeof(T), n)) return {};
    std::vector<T> v(n);
    if (n == 0) return v;  // memcpy's pointers must not be null, even for no bytes
    std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }
  std::string GetString() {
    auto v = GetVector<char>();
    return std::string(v.begin(), v.end());
  }
  bool done() const { return pos_ == bytes_.size(); }
  bool ok() const { return !failed_; }

 private:
  // Whether n elements of `size` bytes remain (no product that can wrap).
  bool Fits(size_t size, uint64_t n) {
    const bool fits = !failed_ && n <= (bytes_.size() - pos_) / size;
    if (!fits) {
      QSWEEP_CHECK(untrusted_);
      failed_ = true;
    }
    return fits;
  }
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
  bool untrusted_ = false, failed_ = false;
};

}  // namespace qsweep
