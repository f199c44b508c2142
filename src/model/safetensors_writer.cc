#include "model/safetensors_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "core/output_file.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "model/hf_config.h"

namespace qsweep {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kBlockElements = int64_t{32} << 20;  // values per block read and written

// The dtype a tensor is written in: its own, where safetensors holds it.
DType WrittenDType(const TensorInfo& t) {
  return t.dtype == DType::kBF16 || t.dtype == DType::kF16 ? t.dtype : DType::kF32;
}

int64_t WrittenBytes(const TensorInfo& t) { return t.numel() * DTypeBytes(WrittenDType(t)); }

struct Shard {
  std::vector<const TensorInfo*> tensors;
  int64_t bytes = 0;
};

// One safetensors file: its header, then each tensor's bytes in row blocks.
class ShardWriter {
 public:
  ShardWriter(const Checkpoint& ckpt, Progress& progress) : ckpt_(ckpt), progress_(progress) {}

  absl::Status Write(const Shard& shard, const std::string& path) {
    QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(path));
    path_ = out.tmp();
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path_.c_str(), "wb"), std::fclose);
    if (!f) return Error("cannot create it");
    file_ = f.get();
    json header = {{"__metadata__", {{"format", "pt"}}}};
    int64_t at = 0;
    for (const TensorInfo* t : shard.tensors) {
      header[t->name] = {{"dtype", std::string(DTypeName(WrittenDType(*t)))},
                         {"shape", t->shape},
                         {"data_offsets", {at, at + WrittenBytes(*t)}}};
      at += WrittenBytes(*t);
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
    const uint64_t n = text.size();
    QSWEEP_RETURN_IF_ERROR(Put(&n, 8));
    QSWEEP_RETURN_IF_ERROR(Put(text.data(), text.size()));
    for (const TensorInfo* t : shard.tensors) QSWEEP_RETURN_IF_ERROR(WriteTensor(*t));
    file_ = nullptr;
    if (std::fclose(f.release()) != 0) return Error("cannot close it");
    return out.Commit();
  }

 private:
  absl::Status Error(const std::string& what) const {
    return absl::InternalError(absl::StrFormat("%s: %s: %s", path_, what, std::strerror(errno)));
  }
  absl::Status Put(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, file_) != bytes) return Error("writing failed (disk full?)");
    return absl::OkStatus();
  }

  absl::Status WriteTensor(const TensorInfo& t) {
    const int64_t rows = t.shape.empty() ? 1 : t.shape[0];
    const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
    const DType dtype = WrittenDType(t);
    const int64_t block = std::max<int64_t>(1, kBlockElements / cols);
    for (int64_t begin = 0; begin < rows; begin += block) {
      const int64_t end = std::min(rows, begin + block), n = (end - begin) * cols;
      if (dtype == DType::kBF16 && t.shape.size() == 2) {
        bits_.resize(n);
        QSWEEP_RETURN_IF_ERROR(ckpt_.ReadBlockBF16(t.name, begin, end, 0, cols, bits_));
        QSWEEP_RETURN_IF_ERROR(Put(bits_.data(), n * 2));
      } else {
        values_.resize(n);
        QSWEEP_RETURN_IF_ERROR(ckpt_.ReadSlice(t.name, 0, begin, end, values_));
        if (dtype == DType::kF32) {
          QSWEEP_RETURN_IF_ERROR(Put(values_.data(), n * 4));
        } else {
          bits_.resize(n);
          for (int64_t i = 0; i < n; ++i)  // exact: the values are the dtype's
            bits_[i] = dtype == DType::kBF16 ? FloatToBF16(values_[i]) : FloatToF16(values_[i]);
          QSWEEP_RETURN_IF_ERROR(Put(bits_.data(), n * 2));
        }
      }
      progress_.Advance(n * DTypeBytes(dtype));
    }
    return absl::OkStatus();
  }

  const Checkpoint& ckpt_;
  Progress& progress_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<uint16_t> bits_;
  std::vector<float> values_;
};

absl::Status WriteJson(const json& j, const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(path));
  {
    std::ofstream f(out.tmp());
    f << j.dump(2) << "\n";
    f.close();
    if (!f) return absl::InternalError(absl::StrFormat("%s: writing failed (disk full?)", out.tmp()));
  }
  return out.Commit();
}

}  // namespace

absl::Status WriteSafetensorsCheckpoint(const Checkpoint& ckpt, const std::string& dir, int64_t shard_bytes,
                                        bool progress) {
  if (shard_bytes <= 0)
    return absl::InvalidArgumentError(absl::StrFormat("a shard of %d bytes: it must be positive", shard_bytes));
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
    return absl::AlreadyExistsError(
        absl::StrFormat("%s: exists and is not an empty folder (an export writes a new checkpoint)", dir));
  QSWEEP_RETURN_IF_ERROR(CreateParentFolder((fs::path(dir) / "config.json").string()));
  std::vector<Shard> shards(1);
  int64_t total = 0;
  for (const TensorInfo& t : ckpt.tensors()) {
    const int64_t bytes = WrittenBytes(t);
    if (!shards.back().tensors.empty() && shards.back().bytes + bytes > shard_bytes) shards.emplace_back();
    shards.back().tensors.push_back(&t);
    shards.back().bytes += bytes;
    total += bytes;
  }
  QSWEEP_RETURN_IF_ERROR(WriteJson(HfConfigJson(ckpt.config()), (fs::path(dir) / "config.json").string()));
  Progress bar(absl::StrFormat("writing %s", dir), total, "bytes", progress, 10.0);
  ShardWriter writer(ckpt, bar);
  const int count = static_cast<int>(shards.size());
  json weight_map = json::object();
  for (int i = 0; i < count; ++i) {
    const std::string name =
        count == 1 ? "model.safetensors" : absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, count);
    QSWEEP_RETURN_IF_ERROR(writer.Write(shards[i], (fs::path(dir) / name).string()));
    for (const TensorInfo* t : shards[i].tensors) weight_map[t->name] = name;
  }
  bar.Finish();
  if (count == 1) return absl::OkStatus();
  return WriteJson({{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}},
                   (fs::path(dir) / "model.safetensors.index.json").string());
}

}  // namespace qsweep
