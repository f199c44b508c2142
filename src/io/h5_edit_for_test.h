// Test-only edits of a written HDF5 file (raw C API, read-write), to make the
// damaged or foreign files that readers must refuse with a clear error.
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "io/h5_file.h"

namespace qsweep::testing {

class H5Editor {
 public:
  explicit H5Editor(const std::string& path) : id_(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {}
  ~H5Editor() {
    if (id_ >= 0) H5Fclose(id_);
  }
  bool ok() const { return id_ >= 0; }
  bool DeleteAttr(const std::string& object, const std::string& key) {
    return H5Adelete_by_name(id_, object.c_str(), key.c_str(), H5P_DEFAULT) >= 0;
  }
  bool SetIntAttr(const std::string& object, const std::string& key, int64_t v) {
    H5Adelete_by_name(id_, object.c_str(), key.c_str(), H5P_DEFAULT);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate_by_name(id_, object.c_str(), key.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    const bool good = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return good;
  }
  bool SetStringAttr(const std::string& object, const std::string& key, const std::string& v) {
    H5Adelete_by_name(id_, object.c_str(), key.c_str(), H5P_DEFAULT);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate_by_name(id_, object.c_str(), key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT);
    const char* p = v.c_str();
    const bool good = a >= 0 && H5Awrite(a, type, &p) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return good;
  }
  // Replaces a dataset by a 1-D one holding `v` (any length).
  template <typename T>
  bool Replace(const std::string& name, const std::vector<T>& v) {
    if (H5Ldelete(id_, name.c_str(), H5P_DEFAULT) < 0) return false;
    const hsize_t n = v.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const h5::Type t = h5::TypeOf<T>();
    const hid_t ds = H5Dcreate2(id_, name.c_str(), h5::FileType(t), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const bool good = ds >= 0 && (n == 0 || H5Dwrite(ds, h5::MemType(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(space);
    return good;
  }

 private:
  hid_t id_;
};

}  // namespace qsweep::testing
