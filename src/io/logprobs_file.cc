#include "io/logprobs_file.h"

#include <filesystem>

#include <hdf5.h>

#include "absl/strings/str_format.h"
#include "core/output_file.h"
#include "core/status_macros.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

absl::Status H5Error(const std::string& path, const std::string& what) {
  return absl::InternalError(absl::StrFormat("%s: HDF5 failed to %s", path, what));
}

absl::Status WriteVector(hid_t file, const char* name, hid_t type, int64_t n, const void* data,
                         const std::string& path) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const herr_t err = ds < 0 ? -1 : H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  return err < 0 ? H5Error(path, absl::StrFormat("write %s", name)) : absl::OkStatus();
}

absl::Status WriteStringAttr(hid_t obj, const char* name, const std::string& value,
                             const std::string& path) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.empty() ? 1 : value.size());
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  const herr_t err = attr < 0 ? -1 : H5Awrite(attr, type, value.c_str());
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  return err < 0 ? H5Error(path, absl::StrFormat("write attribute %s", name)) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogprobsFileWriter> LogprobsFileWriter::Create(const std::string& path,
                                                              int64_t total_tokens, int64_t vocab,
                                                              const std::string& model,
                                                              const std::string& scheme) {
  h5::InitLibrary();
  QSWEEP_RETURN_IF_ERROR(OutputFile::Begin(path).status());  // a regular file, or a new one
  LogprobsFileWriter w;
  w.path_ = path;
  w.total_ = total_tokens;
  w.vocab_ = vocab;
  w.file_ = H5Fcreate((path + ".tmp").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (w.file_ < 0) return H5Error(path, "create the file (is the folder writable, the disk full?)");
  const hsize_t dims[2] = {static_cast<hsize_t>(total_tokens), static_cast<hsize_t>(vocab)};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  w.dataset_ = H5Dcreate2(w.file_, "logprobs", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
  H5Sclose(space);
  if (w.dataset_ < 0) return H5Error(path, "create /logprobs");
  QSWEEP_RETURN_IF_ERROR(WriteStringAttr(w.file_, "model", model, path));
  QSWEEP_RETURN_IF_ERROR(WriteStringAttr(w.file_, "scheme", scheme, path));
  return w;
}

LogprobsFileWriter::LogprobsFileWriter(LogprobsFileWriter&& o) noexcept
    : path_(std::move(o.path_)), file_(o.file_), dataset_(o.dataset_), total_(o.total_), vocab_(o.vocab_) {
  o.file_ = o.dataset_ = -1;
}

LogprobsFileWriter::~LogprobsFileWriter() {
  if (dataset_ >= 0) H5Dclose(dataset_);
  if (file_ >= 0) {
    H5Fclose(file_);
    std::filesystem::remove(path_ + ".tmp");  // not closed properly: leave nothing behind
  }
}

absl::Status LogprobsFileWriter::WriteRows(int64_t first_row, int64_t rows,
                                           std::span<const float> logprobs) {
  QSWEEP_CHECK(first_row >= 0 && first_row + rows <= total_ &&
               static_cast<int64_t>(logprobs.size()) == rows * vocab_);
  const hsize_t start[2] = {static_cast<hsize_t>(first_row), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(vocab_)};
  const hid_t file_space = H5Dget_space(dataset_);
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  const hid_t mem_space = H5Screate_simple(2, count, nullptr);
  const herr_t err = H5Dwrite(dataset_, H5T_NATIVE_FLOAT, mem_space, file_space, H5P_DEFAULT,
                              logprobs.data());
  H5Sclose(mem_space);
  H5Sclose(file_space);
  return err < 0 ? H5Error(path_, "write /logprobs rows") : absl::OkStatus();
}

absl::Status LogprobsFileWriter::Close(std::span<const int32_t> tokens,
                                       std::span<const int64_t> offsets) {
  QSWEEP_RETURN_IF_ERROR(WriteVector(file_, "tokens", H5T_NATIVE_INT32, tokens.size(), tokens.data(), path_));
  QSWEEP_RETURN_IF_ERROR(WriteVector(file_, "offsets", H5T_NATIVE_INT64, offsets.size(), offsets.data(), path_));
  const int complete = 1;
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file_, "complete", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT, &complete);
  H5Aclose(attr);
  H5Sclose(space);
  H5Dclose(dataset_);
  dataset_ = -1;
  const herr_t err = H5Fclose(file_);
  file_ = -1;
  QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(path_));  // removes the temporary on failure
  if (err < 0) return H5Error(path_, "close the file (disk full?)");
  return out.Commit();
}

}  // namespace qsweep
