// Thin RAII and typed access over the HDF5 C API, private to src/io. Every
// failure becomes an absl::Status that names the file and the object; HDF5's
// own error printing is silenced.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <hdf5.h>

#include "absl/status/statusor.h"

namespace qsweep::h5 {

// An owned hid_t with its close function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; the close function's status (negative: failed).
  herr_t Close();

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// The element types we store; Float16 is IEEE half, stored from uint16 bits.
enum class Type { kI32, kI64, kU8, kF32, kF64, kF16 };
hid_t FileType(Type t);
hid_t MemType(Type t);
template <typename T> constexpr Type TypeOf();
template <> constexpr Type TypeOf<int32_t>() { return Type::kI32; }
template <> constexpr Type TypeOf<int64_t>() { return Type::kI64; }
template <> constexpr Type TypeOf<uint8_t>() { return Type::kU8; }
template <> constexpr Type TypeOf<float>() { return Type::kF32; }
template <> constexpr Type TypeOf<double>() { return Type::kF64; }
template <> constexpr Type TypeOf<uint16_t>() { return Type::kF16; }  // float16 bits

// Sets the library up before its first use (errors as statuses, never
// printed; no clean-up at exit, see h5_file.cc). Every File does it; code
// calling libhdf5 directly calls it first.
void InitLibrary();

class File {
 public:
  // Creates (truncating) or opens read-only.
  static absl::StatusOr<File> Create(const std::string& path);
  static absl::StatusOr<File> Open(const std::string& path);
  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }
  absl::Status Close();

  absl::Status CreateGroup(const std::string& name);
  bool Exists(const std::string& name) const;
  // Child names of a group, in creation order when tracked, else by name.
  absl::StatusOr<std::vector<std::string>> Children(const std::string& group) const;

  // A dataset of `dims` (1-D or 2-D) from `data`; chunked and gzip-compressed
  // along rows when `compress` (for the big 2-D arrays).
  absl::Status Write(const std::string& name, Type type, const std::vector<int64_t>& dims,
                     const void* data, bool compress = false);
  // fp32 values stored as bfloat16 (each must be exact in it: HDF5's
  // conversion then loses nothing); read back as float by Read<float>.
  absl::Status WriteFloatAsBf16(const std::string& name, const std::vector<int64_t>& dims, const float* data,
                                bool compress);
  // A bfloat16 dataset (WriteFloatAsBf16's) read whole as float.
  absl::StatusOr<std::vector<float>> ReadBf16AsFloat(const std::string& name, int rank,
                                                     std::vector<int64_t>* dims) const;
  // Rows [first, first + count) of a 2-D bfloat16 dataset as its bits.
  absl::StatusOr<std::vector<uint16_t>> ReadBf16Rows(const std::string& name, int64_t first, int64_t count) const;
  // Rows [first, first + count) of a 2-D float32 or bfloat16 dataset as float, [count, cols].
  absl::StatusOr<std::vector<float>> ReadFloatRows(const std::string& name, int64_t first, int64_t count) const;
  template <typename T>
  absl::Status Write(const std::string& name, const std::vector<T>& v) {
    return Write(name, TypeOf<T>(), {static_cast<int64_t>(v.size())}, v.data());
  }
  template <typename T>
  absl::Status Write2D(const std::string& name, const std::vector<T>& v, int64_t rows, int64_t cols,
                       bool compress = false) {
    return Write(name, TypeOf<T>(), {rows, cols}, v.data(), compress);
  }

  absl::StatusOr<std::vector<int64_t>> Dims(const std::string& name) const;
  // Reads a whole dataset converted to type `type`, checking its rank.
  absl::Status ReadRaw(const std::string& name, Type type, int rank, std::vector<int64_t>* dims,
                       std::vector<uint8_t>* bytes) const;
  template <typename T>
  absl::StatusOr<std::vector<T>> Read(const std::string& name, int rank = 1,
                                      std::vector<int64_t>* dims = nullptr) const {
    std::vector<uint8_t> bytes;
    std::vector<int64_t> d;
    if (absl::Status s = ReadRaw(name, TypeOf<T>(), rank, &d, &bytes); !s.ok()) return s;
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    if (dims) *dims = d;
    return v;
  }

  absl::Status SetAttr(const std::string& object, const std::string& key, const std::string& value);
  absl::Status SetAttr(const std::string& object, const std::string& key, int64_t value);
  absl::StatusOr<std::string> GetStringAttr(const std::string& object, const std::string& key) const;
  absl::StatusOr<int64_t> GetIntAttr(const std::string& object, const std::string& key) const;
  absl::Status SetDoubleAttr(const std::string& object, const std::string& key, double value);
  absl::StatusOr<double> GetDoubleAttr(const std::string& object, const std::string& key) const;
  bool HasAttr(const std::string& object, const std::string& key) const;

 private:
  absl::Status Fail(const std::string& what) const;
  absl::Status WriteAs(const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<int64_t>& dims,
                       const void* data, bool compress);
  bool IsBf16(const std::string& name) const;
  // The columns of a 2-D dataset, once rows [first, first + count) are
  // checked to be inside it; then those rows read as `mem_type` into `out`.
  absl::StatusOr<int64_t> RowRangeColumns(const std::string& name, int64_t first, int64_t count) const;
  absl::Status ReadRowRange(const std::string& name, int64_t first, int64_t count, int64_t cols, hid_t mem_type,
                            void* out) const;
  std::string path_;
  Handle file_;
};

}  // namespace qsweep::h5
