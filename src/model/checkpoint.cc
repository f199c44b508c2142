#include "model/checkpoint.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/llama2c_checkpoint.h"
#include "model/gguf_checkpoint.h"
#include "model/safetensors_checkpoint.h"
#include "model/synthetic_checkpoint.h"
#include "model/tensor_slice.h"
#include "core/input_file.h"
#include "core/status_macros.h"

namespace qsweep {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string FormatShape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

const TensorInfo* Checkpoint::Find(std::string_view name) const {
  for (const auto& t : tensors())
    if (t.name == name) return &t;
  return nullptr;
}

absl::StatusOr<std::vector<float>> Checkpoint::ReadAll(std::string_view name) const {
  const TensorInfo* info = Find(name);
  if (!info) return absl::NotFoundError(absl::StrFormat("%s: no tensor '%s'", source(), name));
  std::vector<float> out(static_cast<size_t>(info->numel()));
  const int64_t rows = info->shape.empty() ? 1 : info->shape[0];
  absl::Status st = ReadSlice(name, 0, 0, rows, out);
  if (!st.ok()) return st;
  return out;
}

absl::Status Checkpoint::ReadBlockBF16(std::string_view name, int64_t row_begin, int64_t row_end,
                                       int64_t col_begin, int64_t col_end, std::span<uint16_t> out) const {
  QSWEEP_ASSIGN_OR_RETURN(TensorSlice s, ResolveBlockBF16(*this, name, row_begin, row_end, col_begin, col_end,
                                                          out.size()));
  std::vector<float> rows((s.row_end - s.row_begin) * s.cols);
  QSWEEP_RETURN_IF_ERROR(ReadSlice(name, 0, s.row_begin, s.row_end, rows));
  const int64_t oc = s.out_cols();
  for (int64_t r = 0; r < s.row_end - s.row_begin; ++r)
    for (int64_t c = 0; c < oc; ++c) out[r * oc + c] = FloatToBF16(rows[r * s.cols + s.col_begin + c]);
  return absl::OkStatus();
}

int64_t Checkpoint::TotalBytes() const {
  int64_t n = 0;
  for (const auto& t : tensors()) n += t.numel() * DTypeBytes(t.dtype);
  return n;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenCheckpoint(const std::string& spec) {
  namespace fs = std::filesystem;
  if (absl::StartsWith(spec, "synthetic:")) return OpenSyntheticCheckpoint(spec);
  std::error_code ec;
  const fs::path path(spec);
  if (fs::is_directory(path, ec)) return OpenSafetensorsCheckpoint(spec);
  if (!fs::exists(path, ec))
    return absl::NotFoundError(absl::StrFormat(
        "%s: no such file or directory (expected a checkpoint directory, a .safetensors file, "
        "a .gguf file, a llama2.c .bin file or synthetic:NAME)",
        spec));
  if (absl::EndsWith(spec, ".safetensors") || absl::EndsWith(spec, ".safetensors.index.json"))
    return OpenSafetensorsCheckpoint(spec);
  if (absl::EndsWith(spec, ".gguf")) {
    QSWEEP_RETURN_IF_ERROR(RequireRegularFile(spec, "the checkpoint"));
    QSWEEP_ASSIGN_OR_RETURN(std::unique_ptr<GgufCheckpoint> gguf, GgufCheckpoint::Open(spec));
    return std::unique_ptr<Checkpoint>(std::move(gguf));
  }
  if (absl::EndsWith(spec, ".bin")) {
    // PyTorch's .bin is a zip of pickles; llama2.c's starts with int32 dims.
    QSWEEP_RETURN_IF_ERROR(RequireRegularFile(spec, "the checkpoint"));
    char magic[2] = {0, 0};
    std::ifstream(spec, std::ios::binary).read(magic, 2);
    if (magic[0] == 'P' && magic[1] == 'K')
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: a PyTorch pickle checkpoint, which is not supported: convert it to safetensors",
          spec));
    return OpenLlama2cCheckpoint(spec);
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: unknown checkpoint format (expected a directory with config.json, a .safetensors "
      "file, a llama2.c .bin file or synthetic:NAME)",
      spec));
}

}  // namespace qsweep
