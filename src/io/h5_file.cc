#include "io/h5_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "core/input_file.h"

namespace qsweep::h5 {
namespace {

hid_t F16Type() {
  static const hid_t t = [] {
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_precision(h, 16);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    return h;
  }();
  return t;
}

// bfloat16: fp32's sign and exponent, 7 mantissa bits.
hid_t Bf16Type() {
  static const hid_t t = [] {
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 15, 7, 8, 0, 7);
    H5Tset_precision(h, 16);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 127);
    return h;
  }();
  return t;
}

}  // namespace

// HDF5 prints its error stack by default; errors reach users as Status only.
// The library set up once, before its first use: errors come back as
// statuses (not printed), and no clean-up at exit. A file whose writes
// failed (a full disk) cannot be closed, and libhdf5's exit handler would
// try again and crash inside H5F__close_cb after the error was reported;
// the process's end releases it anyway, and the output's temporary is
// removed by OutputFile before then.
void InitLibrary() {
  static const bool done = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && close_) close_(id_);
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

herr_t Handle::Close() {
  const herr_t e = id_ >= 0 && close_ ? close_(id_) : 0;
  id_ = -1;
  return e;
}

Handle::~Handle() {
  if (id_ >= 0 && close_) close_(id_);
}

hid_t FileType(Type t) {
  switch (t) {
    case Type::kI32: return H5T_STD_I32LE;
    case Type::kI64: return H5T_STD_I64LE;
    case Type::kU8: return H5T_STD_U8LE;
    case Type::kF32: return H5T_IEEE_F32LE;
    case Type::kF64: return H5T_IEEE_F64LE;
    case Type::kF16: return F16Type();
  }
  return -1;
}

hid_t MemType(Type t) {
  switch (t) {
    case Type::kI32: return H5T_NATIVE_INT32;
    case Type::kI64: return H5T_NATIVE_INT64;
    case Type::kU8: return H5T_NATIVE_UINT8;
    case Type::kF32: return H5T_NATIVE_FLOAT;
    case Type::kF64: return H5T_NATIVE_DOUBLE;
    case Type::kF16: return F16Type();
  }
  return -1;
}

absl::Status File::Fail(const std::string& what) const {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path_, what));
}

absl::StatusOr<File> File::Create(const std::string& path) {
  InitLibrary();
  File f;
  f.path_ = path;
  // Track creation order so tasks list in the order they were written.
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  // The 1.10 format: a checksum on the superblock and on every object header
  // (attributes included), so a damaged byte of metadata is an error, not a
  // crash inside libhdf5 or a silently different value.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
  f.file_ = Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!f.file_.valid()) return f.Fail("cannot create the HDF5 file (is the folder writable, the disk full?)");
  return f;
}

absl::StatusOr<File> File::Open(const std::string& path) {
  InitLibrary();
  File f;
  f.path_ = path;
  QSWEEP_RETURN_IF_ERROR(RequireRegularFile(path, "an HDF5 input"));
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrFormat("%s: no such file", path));
  if (H5Fis_hdf5(path.c_str()) <= 0) return f.Fail("not an HDF5 file (corrupt or truncated?)");
  // Files of the HDF5 1.8 format and older (superblock 0 or 1) carry no
  // metadata checksums: a damaged byte of them is a silently different
  // value, or a crash inside libhdf5 (a variable-length string's heap index
  // out of range is read unchecked). Only checksummed files are read; the
  // superblock's version byte follows the signature at the start of the
  // file (qsweep writes no user block), looked at before libhdf5 parses any.
  if (std::ifstream in(path, std::ios::binary); in) {
    char head[9] = {};
    in.read(head, sizeof head);
    if (in.gcount() == sizeof head && std::memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0 && head[8] < 2)
      return f.Fail(absl::StrFormat(
          "HDF5 superblock version %d: a file without metadata checksums (written by a qsweep older than its "
          "checksummed format, or by another tool), whose damage cannot be told from its data; rerun it",
          static_cast<int>(head[8])));
  }
  f.file_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f.file_.valid()) return f.Fail("cannot open the HDF5 file (corrupt or truncated?)");
  return f;
}

absl::Status File::Close() {
  // Flushing is where a full disk shows: the caller must not rename a file
  // whose data did not all reach it.
  if (file_.valid() && H5Fflush(file_.get(), H5F_SCOPE_LOCAL) < 0) {
    file_.Close();
    return Fail("writing failed (disk full?)");
  }
  if (file_.Close() < 0) return Fail("closing failed (disk full?)");
  return absl::OkStatus();
}

absl::Status File::CreateGroup(const std::string& name) {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  Handle g(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  return g.valid() ? absl::OkStatus() : Fail(absl::StrFormat("cannot create group %s", name));
}

bool File::Exists(const std::string& name) const {
  if (name == "/" ) return true;
  // Check each path component so that a missing parent is not an error.
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = name.find('/', pos + 1);
    partial = name.substr(0, pos);
    if (partial.empty() || partial == "/") continue;
    if (H5Lexists(id(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> File::Children(const std::string& group) const {
  if (!Exists(group)) return Fail(absl::StrFormat("missing group %s", group));
  Handle g(H5Gopen2(id(), group.c_str(), H5P_DEFAULT), H5Gclose);
  H5G_info_t info;
  if (!g.valid() || H5Gget_info(g.get(), &info) < 0) return Fail(absl::StrFormat("cannot read group %s", group));
  unsigned flags = 0;
  Handle gcpl(H5Gget_create_plist(g.get()), H5Pclose);
  H5Pget_link_creation_order(gcpl.get(), &flags);
  const H5_index_t index = (flags & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(g.get(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0 || n > (1 << 16))
      return Fail(absl::StrFormat("cannot read the name of link %d of group %s", i, group));
    std::string s(n, '\0');
    H5Lget_name_by_idx(g.get(), ".", index, H5_ITER_INC, i, s.data(), n + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

absl::Status File::Write(const std::string& name, Type type, const std::vector<int64_t>& dims,
                         const void* data, bool compress) {
  return WriteAs(name, FileType(type), MemType(type), dims, data, compress);
}

// HDF5 converts to and from a float type of its own definition in software,
// element by element (~100 ns each: 18 s for an 8B model's 43k tokens of
// hidden states), so bfloat16 moves as raw 16-bit words here and is widened
// or narrowed by a shift, which is exact for values bfloat16 holds.
absl::Status File::WriteFloatAsBf16(const std::string& name, const std::vector<int64_t>& dims, const float* data,
                                    bool compress) {
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  std::vector<uint16_t> bits(total);
  for (int64_t i = 0; i < total; ++i) bits[i] = FloatToBF16(data[i]);
  return WriteAs(name, Bf16Type(), Bf16Type(), dims, bits.data(), compress);
}

namespace {

// bfloat16 words widened to float: a shift, exact; the host's cores share a
// hidden-state batch's tens of millions of them.
std::vector<float> WidenBf16(const std::vector<uint16_t>& bits) {
  std::vector<float> out(bits.size());
  const int64_t n = static_cast<int64_t>(bits.size());
#pragma omp parallel for schedule(static) if (n > (1 << 20))
  for (int64_t i = 0; i < n; ++i) out[i] = BF16ToFloat(bits[i]);
  return out;
}

}  // namespace

bool File::IsBf16(const std::string& name) const {
  Handle ds(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  return type.valid() && H5Tequal(type.get(), Bf16Type()) > 0;
}

absl::StatusOr<std::vector<float>> File::ReadBf16AsFloat(const std::string& name, int rank,
                                                         std::vector<int64_t>* dims) const {
  QSWEEP_ASSIGN_OR_RETURN(*dims, Dims(name));
  if (static_cast<int>(dims->size()) != rank)
    return Fail(absl::StrFormat("dataset %s has %d dimensions, expected %d", name, dims->size(), rank));
  if (!IsBf16(name)) return Fail(absl::StrFormat("dataset %s is not bfloat16", name));
  int64_t total = 1;
  for (int64_t d : *dims) total *= d;
  Handle ds(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  std::vector<uint16_t> bits(total);
  if (total > 0 && H5Dread(ds.get(), Bf16Type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()) < 0)
    return Fail(absl::StrFormat("cannot read dataset %s (corrupt data)", name));
  return WidenBf16(bits);
}

absl::StatusOr<int64_t> File::RowRangeColumns(const std::string& name, int64_t first, int64_t count) const {
  QSWEEP_ASSIGN_OR_RETURN(const std::vector<int64_t> dims, Dims(name));
  if (dims.size() != 2) return Fail(absl::StrFormat("dataset %s has %d dimensions, expected 2", name, dims.size()));
  if (first < 0 || count < 0 || first > dims[0] - count)
    return Fail(absl::StrFormat("dataset %s has %d rows, rows [%d, %d) were asked for", name, dims[0], first,
                                first + count));
  return dims[1];
}

absl::Status File::ReadRowRange(const std::string& name, int64_t first, int64_t count, int64_t cols, hid_t mem_type,
                                void* out) const {
  if (count == 0 || cols == 0) return absl::OkStatus();
  Handle ds(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle file_space(H5Dget_space(ds.get()), H5Sclose);
  const hsize_t start[2] = {static_cast<hsize_t>(first), 0},
                size[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(cols)};
  Handle mem_space(H5Screate_simple(2, size, nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr) < 0 ||
      H5Dread(ds.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    return Fail(absl::StrFormat("cannot read rows [%d, %d) of dataset %s (wrong type or corrupt data)", first,
                                first + count, name));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint16_t>> File::ReadBf16Rows(const std::string& name, int64_t first,
                                                         int64_t count) const {
  QSWEEP_ASSIGN_OR_RETURN(const int64_t cols, RowRangeColumns(name, first, count));
  if (!IsBf16(name)) return Fail(absl::StrFormat("dataset %s is not bfloat16", name));
  std::vector<uint16_t> bits(count * cols);
  QSWEEP_RETURN_IF_ERROR(ReadRowRange(name, first, count, cols, Bf16Type(), bits.data()));
  return bits;
}

absl::StatusOr<std::vector<float>> File::ReadFloatRows(const std::string& name, int64_t first, int64_t count) const {
  QSWEEP_ASSIGN_OR_RETURN(const int64_t cols, RowRangeColumns(name, first, count));
  if (IsBf16(name)) {
    QSWEEP_ASSIGN_OR_RETURN(const std::vector<uint16_t> bits, ReadBf16Rows(name, first, count));
    return WidenBf16(bits);
  }
  std::vector<float> out(count * cols);
  QSWEEP_RETURN_IF_ERROR(ReadRowRange(name, first, count, cols, H5T_NATIVE_FLOAT, out.data()));
  return out;
}

absl::Status File::WriteAs(const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<int64_t>& dims,
                           const void* data, bool compress) {
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  if (total > 0) {
    // Chunks of whole rows, about 1 MiB: reading a row range reads (and
    // decompresses) little. Every chunk carries a Fletcher-32 checksum, so
    // a value changed in place is an error on reading, never other metrics.
    const int64_t elem = H5Tget_size(file_type);
    const int64_t row = dims.size() == 2 ? dims[1] : 1;
    const hsize_t rows = static_cast<hsize_t>(
        std::max<int64_t>(1, std::min<int64_t>(dims[0], (1 << 20) / std::max<int64_t>(1, row * elem))));
    const hsize_t chunk[2] = {rows, dims.size() == 2 ? hd[1] : 1};
    H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), chunk);
    if (compress && dims.size() == 2) {
      H5Pset_shuffle(dcpl.get());
      H5Pset_deflate(dcpl.get(), 4);
    }
    H5Pset_fletcher32(dcpl.get());
  }
  Handle ds(H5Dcreate2(id(), name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) return Fail(absl::StrFormat("cannot create dataset %s", name));
  if (total > 0 && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    return Fail(absl::StrFormat("cannot write dataset %s", name));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> File::Dims(const std::string& name) const {
  if (!Exists(name)) return Fail(absl::StrFormat("missing dataset %s", name));
  Handle ds(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) return Fail(absl::StrFormat("%s is not a dataset", name));
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> hd(std::max(rank, 0));
  H5Sget_simple_extent_dims(space.get(), hd.data(), nullptr);
  return std::vector<int64_t>(hd.begin(), hd.end());
}

absl::Status File::ReadRaw(const std::string& name, Type type, int rank, std::vector<int64_t>* dims,
                           std::vector<uint8_t>* bytes) const {
  QSWEEP_ASSIGN_OR_RETURN(*dims, Dims(name));
  if (static_cast<int>(dims->size()) != rank)
    return Fail(absl::StrFormat("dataset %s has %d dimensions, expected %d", name, dims->size(), rank));
  int64_t total = 1;
  for (int64_t d : *dims) total *= d;
  bytes->resize(total * H5Tget_size(MemType(type)));
  Handle ds(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (total > 0 && H5Dread(ds.get(), MemType(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes->data()) < 0)
    return Fail(absl::StrFormat("cannot read dataset %s (wrong type or corrupt data)", name));
  return absl::OkStatus();
}

absl::Status File::SetAttr(const std::string& object, const std::string& key, const std::string& value) {
  // Fixed-length, in the object header (which carries a checksum): a
  // variable-length string's bytes would sit in the global heap, which has
  // none, and a damaged length there crashes libhdf5 on reading.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT);
  Handle attr(H5Acreate_by_name(id(), object.c_str(), key.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), padded.data()) < 0)
    return Fail(absl::StrFormat("cannot write attribute %s of %s", key, object));
  return absl::OkStatus();
}

absl::Status File::SetAttr(const std::string& object, const std::string& key, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT);
  Handle attr(H5Acreate_by_name(id(), object.c_str(), key.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    return Fail(absl::StrFormat("cannot write attribute %s of %s", key, object));
  return absl::OkStatus();
}

absl::Status File::SetDoubleAttr(const std::string& object, const std::string& key, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT);
  Handle attr(H5Acreate_by_name(id(), object.c_str(), key.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    return Fail(absl::StrFormat("cannot write attribute %s of %s", key, object));
  return absl::OkStatus();
}

absl::StatusOr<double> File::GetDoubleAttr(const std::string& object, const std::string& key) const {
  if (!HasAttr(object, key)) return Fail(absl::StrFormat("missing attribute %s of %s", key, object));
  Handle attr(H5Aopen_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  double v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0)
    return Fail(absl::StrFormat("attribute %s of %s is not a number", key, object));
  return v;
}

bool File::HasAttr(const std::string& object, const std::string& key) const {
  return Exists(object) && H5Aexists_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT) > 0;
}

absl::StatusOr<std::string> File::GetStringAttr(const std::string& object, const std::string& key) const {
  if (!HasAttr(object, key)) return Fail(absl::StrFormat("missing attribute %s of %s", key, object));
  Handle attr(H5Aopen_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Handle ftype(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING)
    return Fail(absl::StrFormat("attribute %s of %s is not a string", key, object));
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5Tget_cset(ftype.get()));
    char* p = nullptr;
    if (H5Aread(attr.get(), type.get(), &p) < 0) return Fail(absl::StrFormat("cannot read attribute %s", key));
    std::string s = p ? p : "";
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  std::string s(H5Tget_size(ftype.get()), '\0');
  if (H5Aread(attr.get(), ftype.get(), s.data()) < 0) return Fail(absl::StrFormat("cannot read attribute %s", key));
  s.resize(strnlen(s.c_str(), s.size()));
  return s;
}

absl::StatusOr<int64_t> File::GetIntAttr(const std::string& object, const std::string& key) const {
  if (!HasAttr(object, key)) return Fail(absl::StrFormat("missing attribute %s of %s", key, object));
  Handle attr(H5Aopen_by_name(id(), object.c_str(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0)
    return Fail(absl::StrFormat("attribute %s of %s is not an integer", key, object));
  return v;
}

}  // namespace qsweep::h5
